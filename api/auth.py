"""Who is asking: an API key (``sn_…``) or a JWT (HS256 / RS256), resolved to one ``Principal``.

A JWT carries ``sub``, ``role`` (admin, analyst, erp, partner) and, for a partner, ``enterprise_id``; for
an erp token, ``source``. Issuer (and audience, when configured) are required and checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jwt
from sqlalchemy import Engine

from api.keys import verify_key
from schema.tables import Role


class AuthError(Exception):
    """A credential was sent but refused; the message says why (never echoes the secret)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. A partner is bound to its enterprise; an erp caller to its source.
    What a role may do is ``api.policy.GRANTS``."""

    name: str
    role: Role
    enterprise_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class JwtConfig:
    """How JWTs are checked. HS256 needs ``hs256_secret``; RS256 needs ``public_key`` (PEM)."""

    issuer: str
    audience: str | None = None
    hs256_secret: str | None = None
    public_key: str | None = None

    @staticmethod
    def load_key(value: str | None) -> str | None:
        """PEM text as is; anything else is read as a file path."""
        if value is None or "-----BEGIN" in value:
            return value
        return Path(value).read_text(encoding="utf-8")

    def algorithms(self) -> list[str]:
        return [a for a, k in (("HS256", self.hs256_secret), ("RS256", self.public_key)) if k]


def _principal_from_jwt(token: str, config: JwtConfig) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise AuthError(f"malformed JWT: {e}") from None
    alg = header.get("alg")
    if alg not in config.algorithms():
        raise AuthError(f"JWT algorithm {alg!r} is not accepted (accepted: {', '.join(config.algorithms())})")
    key = config.hs256_secret if alg == "HS256" else config.public_key
    assert key is not None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=config.issuer,
            audience=config.audience,
            options={"require": ["exp", "iss", "sub"], "verify_aud": config.audience is not None},
        )
    except jwt.PyJWTError as e:
        raise AuthError(f"JWT refused: {e}") from None
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise AuthError(f"JWT claim 'role' must be one of {', '.join(r.value for r in Role)}") from None
    enterprise_id = claims.get("enterprise_id")
    source = claims.get("source")
    if role is Role.PARTNER and not enterprise_id:
        raise AuthError("a partner JWT must carry the claim 'enterprise_id'")
    if role is Role.ERP and not source:
        raise AuthError("an erp JWT must carry the claim 'source'")
    return Principal(name=str(claims["sub"]), role=role, enterprise_id=enterprise_id, source=source)


def authenticate(token: str, *, engine: Engine, jwt_config: JwtConfig | None) -> Principal:
    """The principal a bearer token stands for; ``AuthError`` with the reason otherwise."""
    if token.startswith("sn_"):
        key = verify_key(engine, token=token)
        if key is None:
            raise AuthError("unknown or revoked API key")
        return Principal(name=key.name, role=key.role, enterprise_id=key.enterprise_id, source=key.source)
    if token.count(".") == 2:
        if jwt_config is None:
            raise AuthError("JWT login is not configured on this server (set SUPPLYNET_API__JWT_ISSUER)")
        return _principal_from_jwt(token, jwt_config)
    raise AuthError("credential is neither an API key (sn_…) nor a JWT")
