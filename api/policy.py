"""Who may do what, and what a partner may see: the API's one authorization layer.

Roles are ``schema.tables.Role``; ``GRANTS`` says once which role may take which action. Every root
resolver, nested type resolver and subscription asks the request's ``Policy``:

- ``authorize(action)``: the principal if its role holds the action (``Forbidden`` otherwise); for a
  partner it also loads its scope, once per request.
- ``sees(enterprise_id)``: whether an enterprise is in the caller's network. ``api.enterprise.Enterprise``
  asks it for every field it resolves, so no root field, nesting, fragment or alias reaches past it.
- ``redact_link(link)``: nulls the commercial terms of a link the partner is not a party to;
  ``redact_terms`` the same for any row between a supplier and a buyer (an order's price).

A partner's scope is its enterprise and every enterprise within ``partner_tiers`` supply hops of it,
upstream (its suppliers and theirs) and downstream (its buyers and theirs), over any ``SUPPLIES`` link.
Links with an end outside the scope are left out of every answer; nothing names an enterprise outside.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from api.auth import Principal
from api.errors import Forbidden
from schema.tables import Role

COMMERCIAL_FIELDS = ("share", "unitPrice", "annualVolume", "currency")
"""Fields of a supply link a partner sees only on links it is a party to."""

ORDER_TERMS = ("unitPrice", "currency")
"""Fields of an order a partner sees only on orders it is a party to (buyer or supplier)."""


class Action(enum.Enum):
    """What a caller may ask of the API."""

    READ_NETWORK = "read the supply network (for a partner: its own network)"
    READ_ALL = "read whole-graph analyses (product chains, design, candidates, incidents, risk lists)"
    SUBSCRIBE = "subscribe to graph changes and risk alerts"
    INGEST = "send events"
    REPORT_DISRUPTION = "report and resolve disruptions"
    MANAGE_INCIDENTS = "work on risk incidents"
    DESIGN = "work on design projects (a partner: those its enterprise owns or joined)"


_EVERY_READER = frozenset({Role.ADMIN, Role.ANALYST, Role.PARTNER})
_STAFF = frozenset({Role.ADMIN, Role.ANALYST})

GRANTS: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        Action.READ_NETWORK: _EVERY_READER,
        Action.READ_ALL: _STAFF,
        Action.SUBSCRIBE: _EVERY_READER,
        Action.INGEST: frozenset({Role.ADMIN, Role.ERP}),
        Action.REPORT_DISRUPTION: frozenset({Role.ADMIN, Role.ANALYST, Role.ERP}),
        Action.MANAGE_INCIDENTS: _STAFF,
        Action.DESIGN: frozenset({Role.ADMIN, Role.PARTNER}),
    }
)
"""The roles that may take each action; the only place roles meet permissions."""


def allowed_roles(action: Action) -> list[Role]:
    """The roles holding ``action``, in the order ``Role`` declares them."""
    return [r for r in Role if r in GRANTS[action]]


def may(role: Role, action: Action) -> bool:
    return role in GRANTS[action]


class NeighbourhoodReader(Protocol):
    """Where a partner's scope is read from (``graph.views.NetworkViews``)."""

    async def neighbourhood_tiers(
        self, enterprise_id: str, *, tiers: int
    ) -> tuple[dict[str, int], dict[str, int]]: ...


@dataclass(frozen=True)
class PartnerScope:
    """A partner's network: enterprise id → fewest supply hops from its own, upstream and downstream."""

    own: str
    tiers: int
    upstream: Mapping[str, int]
    downstream: Mapping[str, int]

    def __contains__(self, enterprise_id: object) -> bool:
        return enterprise_id in self.upstream or enterprise_id in self.downstream

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.upstream) | frozenset(self.downstream)

    def party_to(self, supplier_id: str | None, buyer_id: str | None) -> bool:
        return self.own in (supplier_id, buyer_id)

    def with_link(self, supplier_id: str, buyer_id: str) -> PartnerScope:
        """The scope once ``supplier → buyer`` exists: a new supplier of an enterprise upstream of
        tier < ``tiers`` (or a new buyer of one downstream) joins at the next tier. Pure."""
        up, down = dict(self.upstream), dict(self.downstream)
        if buyer_id in up and up[buyer_id] < self.tiers:
            up[supplier_id] = min(up.get(supplier_id, self.tiers), up[buyer_id] + 1)
        if supplier_id in down and down[supplier_id] < self.tiers:
            down[buyer_id] = min(down.get(buyer_id, self.tiers), down[supplier_id] + 1)
        if up == self.upstream and down == self.downstream:
            return self
        return PartnerScope(self.own, self.tiers, up, down)


def outside_message(enterprise_id: str, scope: PartnerScope) -> str:
    return f"enterprise {enterprise_id} is outside your network ({scope.tiers} tiers around {scope.own})"


class Policy:
    """One request's (or one websocket connection's) authorization: roles, scope and redaction."""

    def __init__(
        self, principal: Principal | None, views: NeighbourhoodReader, *, partner_tiers: int
    ) -> None:
        self.principal = principal
        self._views = views
        self.partner_tiers = partner_tiers
        self._scope: PartnerScope | None = None
        self._lock = asyncio.Lock()

    # -- roles -----------------------------------------------------------------------------------------

    def require(self, action: Action) -> Principal:
        """The principal if its role holds ``action``; ``Forbidden`` naming the roles that do."""
        p = self.principal
        if p is None:
            raise Forbidden("authentication required: send an API key or a JWT")
        if not may(p.role, action):
            allowed = ", ".join(r.value for r in allowed_roles(action))
            raise Forbidden(f"role {p.role.value} may not do this (allowed: {allowed})")
        return p

    async def authorize(self, action: Action) -> Principal:
        """``require``, and for a partner its scope loaded (what ``sees`` and friends read)."""
        p = self.require(action)
        await self.scope()
        return p

    @property
    def is_partner(self) -> bool:
        return self.principal is not None and self.principal.role is Role.PARTNER

    @property
    def own_enterprise(self) -> str | None:
        """A partner's own enterprise; ``None`` for everyone else."""
        return self.principal.enterprise_id if self.is_partner and self.principal else None

    # -- scope -----------------------------------------------------------------------------------------

    async def scope(self, *, refresh: bool = False) -> PartnerScope | None:
        """A partner's scope (read once, then cached); ``None`` for roles that see everything."""
        own = self.own_enterprise
        if not self.is_partner:
            return None
        if own is None:
            raise Forbidden("a partner credential must name its enterprise")
        async with self._lock:
            if self._scope is None or refresh:
                up, down = await self._views.neighbourhood_tiers(own, tiers=self.partner_tiers)
                self._scope = PartnerScope(own, self.partner_tiers, up, down)
        return self._scope

    def loaded_scope(self) -> PartnerScope | None:
        """The scope ``authorize`` loaded; a partner without one is refused (fails closed)."""
        if not self.is_partner:
            return None
        if self._scope is None:
            raise Forbidden("partner scope not loaded: this field was reached without authorization")
        return self._scope

    def sees(self, enterprise_id: str) -> bool:
        s = self.loaded_scope()
        return s is None or enterprise_id in s

    def sees_link(self, supplier_id: str, buyer_id: str) -> bool:
        return self.sees(supplier_id) and self.sees(buyer_id)

    def sees_factors_of(self, enterprise_id: str) -> bool:
        """A risk factor breakdown: everyone's for staff, only its own enterprise's for a partner."""
        own = self.own_enterprise
        return not self.is_partner or enterprise_id == own

    def visible_ids(self) -> frozenset[str] | None:
        s = self.loaded_scope()
        return None if s is None else s.ids

    def visible_list(self) -> list[str] | None:
        """The scope's ids, sorted (a Cypher parameter); ``None`` for roles that see everything."""
        ids = self.visible_ids()
        return None if ids is None else sorted(ids)

    async def check_in_scope(self, enterprise_id: str) -> None:
        """``Forbidden`` when a partner names an enterprise outside its network."""
        s = await self.scope()
        if s is not None and enterprise_id not in s:
            raise Forbidden(outside_message(enterprise_id, s))

    # -- redaction -------------------------------------------------------------------------------------

    def redact_terms(
        self, row: dict[str, Any], fields: tuple[str, ...], *, supplier_id: str | None, buyer_id: str | None
    ) -> list[str]:
        """Null ``fields`` of a row between ``supplier_id`` and ``buyer_id`` unless the caller may see
        their terms (staff; a partner that is one of the two); the names of those hidden."""
        s = self.loaded_scope()
        if s is None or s.party_to(supplier_id, buyer_id):
            return []
        for f in fields:
            row[f] = None
        return list(fields)

    def redact_link(self, link: dict[str, Any]) -> list[str]:
        """Null a link's commercial fields unless the caller may see them; the names of those hidden."""
        return self.redact_terms(
            link, COMMERCIAL_FIELDS, supplier_id=link.get("supplierId"), buyer_id=link.get("buyerId")
        )

    def restrict_network(
        self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """For a partner: only nodes in its scope, edges among them, others' terms redacted."""
        s = self.loaded_scope()
        if s is None:
            return nodes, edges
        kept = [n for n in nodes if n["id"] in s]
        out = []
        for e in edges:
            if e["supplierId"] in s and e["buyerId"] in s:
                e = dict(e)
                hidden = self.redact_link(e)
                if hidden:
                    e["redacted"] = hidden
                out.append(e)
        return kept, out

    def alert_view(self, alert: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
        """A risk alert as this caller may read it, with the fields hidden; ``None`` if it may not.

        A partner reads alerts about enterprises in its network; the factor breakdown and the summary
        (which spells the factors out) only about its own enterprise."""
        eid = str(alert.get("enterprise"))
        if not self.sees(eid):
            return None
        if self.sees_factors_of(eid):
            return alert, []
        score = float(alert.get("score") or 0.0)
        summary = f"risk score of {eid} is {score:.2f} ({alert.get('reason')})"
        return {**alert, "factors": None, "summary": summary}, ["factors", "summary"]
