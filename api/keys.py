"""API keys: created once (the secret is shown once), stored as SHA-256 digests, checked in constant time.

A key is ``sn_<prefix>_<secret>``; the prefix is its public id, the secret has 256 bits of entropy, so a
fast digest is the right store (a slow password hash protects low-entropy secrets, not these).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from schema.tables import ApiKey, ApiKeyBase, Role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    engine: Engine,
    *,
    name: str,
    role: Role,
    source: str | None = None,
    enterprise_id: str | None = None,
    admin_sources: Collection[str] = (),
) -> tuple[ApiKey, str]:
    """Store a new key; return it and the full secret token (never stored, never shown again).

    An erp key may not send as one of ``admin_sources`` (``stream.admin_sources``): events of those
    sources may change master data any other source registered, which only an admin may."""
    if role is Role.ERP and not source:
        raise ValueError("an erp key must name the event source it may send as")
    if role is Role.ERP and source in admin_sources:
        raise ValueError(
            f"an erp key may not send as {source!r}: it is an admin source (stream.admin_sources), whose "
            "events may change any enterprise's master data; use an admin key for that"
        )
    if role is Role.PARTNER and not enterprise_id:
        raise ValueError("a partner key must name its enterprise")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        **ApiKeyBase(name=name, role=role, source=source, enterprise_id=enterprise_id).model_dump(),
        prefix=prefix,
        digest=_digest(secret),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
    return row, f"sn_{prefix}_{secret}"


def verify_key(engine: Engine, *, token: str) -> ApiKey | None:
    """The live key a token belongs to, or ``None``. Constant-time on the secret."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "sn":
        return None
    _, prefix, secret = parts
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None:
        return None
    return row if hmac.compare_digest(row.digest, _digest(secret)) else None


def key_prefix(token: str) -> str | None:
    """The public prefix of an API key token (``sn_<prefix>_<secret>``), or ``None`` for anything else."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "sn" else None


def is_live(engine: Engine, *, prefix: str) -> bool:
    """Whether the key with this prefix exists and is not revoked: one indexed read on a pooled
    connection, without ``verify_key``'s ORM session and digest."""
    with engine.connect() as conn:
        row = conn.execute(select(col(ApiKey.revoked_at)).where(col(ApiKey.prefix) == prefix)).first()
    return row is not None and row[0] is None


def revoke_key(engine: Engine, *, prefix: str) -> bool:
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
    return True


def list_keys(engine: Engine) -> list[ApiKey]:
    with Session(engine) as session:
        return list(session.exec(select(ApiKey).order_by(ApiKey.id)))  # type: ignore[arg-type]
