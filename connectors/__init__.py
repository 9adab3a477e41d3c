"""Edges to the outside world. Every way in ends in the Kafka topic ``events.raw``."""
