"""The CloudEvents 1.0 style envelope every supplynet event travels in.

Decoding uses msgspec structs: validation is strict (no coercion, unknown fields rejected) and about
20x faster than pydantic for the same contract, which matters at 15k events/s on two cores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

SPECVERSION = "1.0"

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]

MAX_SEQUENCE = 2**63 - 1
"""The largest ``sequence`` an event may carry (a signed 64-bit integer: Kafka's, Java's and Neo4j's
``long``); above it the envelope is refused, naming ``$.sequence``."""


class Envelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """CloudEvents attributes; ``data`` is decoded afterwards by the type named in ``type``.

    ``id`` is the idempotency key; ``subject`` is the business key the event concerns (the Kafka key);
    ``sequence`` orders events of one subject that share a ``time`` (0 to ``MAX_SEQUENCE``).
    """

    specversion: str
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: datetime
    subject: NonEmpty
    data: msgspec.Raw
    sequence: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQUENCE)] = 0
    dataschema: str | None = None
    datacontenttype: str = "application/json"


class ValidEvent(msgspec.Struct, frozen=True):
    """An event that passed its contract: the envelope plus its typed payload.

    Immutable. A msgspec struct rather than a frozen dataclass: every event of every stage is made as
    one, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost as much as
    decoding a reading's payload."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    sequence: int
    data: Any

    @property
    def time_ms(self) -> int:
        """Event time as epoch milliseconds: the clock of last-writer-wins."""
        return int(self.time.timestamp() * 1000)

    def to_json(self) -> bytes:
        """The canonical wire form (UTF-8 JSON, CloudEvents attributes)."""
        return msgspec.json.encode(
            {
                "specversion": SPECVERSION,
                "id": self.id,
                "source": self.source,
                "type": self.type,
                "time": self.time,
                "subject": self.subject,
                "sequence": self.sequence,
                "data": self.data,
            }
        )
