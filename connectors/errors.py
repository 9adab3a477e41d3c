"""The exception tree of ``connectors``."""


class ConnectorError(Exception):
    """Base of every connector error."""


class KafkaUnavailable(ConnectorError):
    """Kafka did not acknowledge in time: nothing was accepted that it cannot keep. Retryable."""


class DeliveryFailed(ConnectorError):
    """The broker refused a record for a non-transient reason (e.g. too large, unknown topic)."""
