"""Every Kafka topic name of supplynet, in one place."""

RAW = "events.raw"
"""Everything any connector accepted, as the sender sent it, keyed by subject."""
VALID = "events.valid"
"""Events that passed their contract, keyed by subject (the enterprise they concern)."""
DLQ = "events.dlq"
"""Rejected events: the original bytes plus headers naming the error (Kafka Connect DLQ convention)."""
ALERTS = "risk.alerts"
"""Risk alerts for dashboards and the Pulsar mirror."""

ALL = (RAW, VALID, DLQ, ALERTS)
