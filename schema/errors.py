"""The exception tree of ``schema``: every rejection names the event, the field and the reason."""

from __future__ import annotations


class SchemaError(Exception):
    """Base of every error raised by the contracts package."""


class EventRejected(SchemaError):
    """An event broke its contract; it is dead-lettered, never applied.

    ``event_id`` and ``event_type`` are ``None`` only when the bytes could not be read far enough to
    know them (not JSON, not UTF-8). ``field`` is a JSON path such as ``$.data.share``.
    """

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
        error_class: str = "contract",
    ) -> None:
        self.reason = reason
        self.field = field
        self.event_id = event_id
        self.event_type = event_type
        self.error_class = error_class
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line an ERP integrator can act on: which event, which field, why."""
        who = f"event {self.event_id!r}" if self.event_id else "event (id unreadable)"
        if self.event_type:
            who += f" of type {self.event_type!r}"
        where = f" field {self.field}" if self.field else ""
        return f"{who}:{where} {self.reason}"
