"""Keyset pages of the records the graph holds: certificates and disruptions.

Certificates are ordered by (valid until, id), disruptions by id; a page is one parameterised round trip
that reads ``first + 1`` rows (the extra one says whether more follow). ``allowed`` is a partner's
network: a certificate of an enterprise in it; a disruption that affects an enterprise in it (directly
or through a facility it operates) or a region one of them is located in.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from graph.views import GraphViews, Record

CERTIFICATES = """
MATCH (c:Certification)
WHERE c.validUntil IS NOT NULL
  AND ($enterprise IS NULL OR c.enterpriseId = $enterprise)
  AND ($standard IS NULL OR c.standard = $standard)
  AND ($status IS NULL OR c.status = $status)
  AND ($fromDate IS NULL OR c.validUntil >= $fromDate)
  AND ($until IS NULL OR c.validUntil <= $until)
  AND ($allowed IS NULL OR c.enterpriseId IN $allowed)
  AND ($afterUntil IS NULL OR c.validUntil > $afterUntil
       OR (c.validUntil = $afterUntil AND c.id > $afterId))
WITH c ORDER BY c.validUntil, c.id LIMIT $limit
RETURN collect(c {.id, .enterpriseId, .standard, .issuer, .validFrom, .validUntil, .status,
                  .expiredReason}) AS page
"""
"""Read on the ``Certification(validUntil)`` range index in order (``graph/migrations.py``)."""

_DISRUPTION_PAGE = """
WHERE d.id > coalesce($afterId, '')
  AND ($status IS NULL OR d.status = $status)
  AND ($kind IS NULL OR d.kind = $kind)
  AND ($severity IS NULL OR d.severity = $severity)
WITH d, scopeRegions ORDER BY d.id
WITH d, scopeRegions,
     [(d)-[:AFFECTS]->(e:Enterprise) | e.id]
       + [(d)-[:AFFECTS]->(:Facility)-[:OPERATED_BY]->(o:Enterprise) | o.id] AS enterprises,
     [(d)-[:AFFECTS]->(r:Region) | r.name] AS regions
WHERE ($enterprise IS NULL OR $enterprise IN enterprises)
  AND ($region IS NULL OR $region IN regions)
  AND ($allowed IS NULL OR any(x IN enterprises WHERE x IN $allowed)
       OR any(r IN regions WHERE r IN scopeRegions))
WITH d, enterprises, regions LIMIT $limit
RETURN collect(d {.id, .kind, .severity, .status, .expectedRecoveryDays, .description, .targetKind,
                  .targetId, .reportedAt, .resolvedAt, .resolutionNote,
                  enterprises: enterprises, regions: regions}) AS page
"""

DISRUPTIONS = (
    """
WITH [] AS scopeRegions
MATCH (d:Disruption)
"""
    + _DISRUPTION_PAGE
)
"""Every disruption (an analyst's page): walked in id order on the ``Disruption(id)`` index from the
cursor, filtered as it goes, so a first page reads about ``first`` / (share that passes) disruptions.
Not from the ``Disruption(status)`` index: with 100,000 disruptions of which 19,000 open (the 10M-event
run) reading every open one and sorting them took 160–260 ms; the id walk takes 3–5 ms."""

DISRUPTIONS_IN_SCOPE = (
    """
CALL () {
  UNWIND $allowed AS a
  MATCH (e:Enterprise {id: a})
  RETURN collect(DISTINCT e.region) AS scopeRegions
}
CALL (scopeRegions) {
  UNWIND $allowed AS a
  MATCH (:Enterprise {id: a})<-[:AFFECTS]-(d:Disruption)
  RETURN d
  UNION
  UNWIND $allowed AS a
  MATCH (:Enterprise {id: a})<-[:OPERATED_BY]-(:Facility)<-[:AFFECTS]-(d:Disruption)
  RETURN d
  UNION
  UNWIND scopeRegions AS name
  MATCH (:Region {name: name})<-[:AFFECTS]-(d:Disruption)
  RETURN d
}
WITH d, scopeRegions
"""
    + _DISRUPTION_PAGE
)
"""A partner's page: only the disruptions its network can see are read (from its enterprises, their
facilities and their regions), so the cost follows what it may see, not every disruption of the graph
(walking all of them for a partner that sees 17 took 300–600 ms at 100,000)."""


class RecordViews(GraphViews):
    """Certificates and disruptions, a keyset page per round trip."""

    async def certificates(
        self,
        *,
        first: int,
        after: tuple[date, str] | None = None,
        enterprise_id: str | None = None,
        standard: str | None = None,
        status: str | None = None,
        valid_until_from: date | None = None,
        valid_until_to: date | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[Record]:
        """Up to ``first`` certificates after ``after`` (valid until, id), soonest to lapse first."""
        rows = await self._read(
            CERTIFICATES,
            enterprise=enterprise_id,
            standard=standard,
            status=status,
            fromDate=valid_until_from,
            until=valid_until_to,
            allowed=sorted(allowed) if allowed is not None else None,
            afterUntil=after[0] if after else None,
            afterId=after[1] if after else None,
            limit=first,
        )
        return list(rows[0]["page"]) if rows else []

    async def disruptions(
        self,
        *,
        first: int,
        after: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        enterprise_id: str | None = None,
        region: str | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[Record]:
        """Up to ``first`` disruptions after the id ``after``, by id, each with the enterprises it
        affects (directly or through a facility) and its regions."""
        params: dict[str, Any] = {
            "status": status,
            "kind": kind,
            "severity": severity,
            "enterprise": enterprise_id,
            "region": region,
            "allowed": sorted(allowed) if allowed is not None else None,
            "afterId": after,
            "limit": first,
        }
        rows = await self._read(DISRUPTIONS if allowed is None else DISRUPTIONS_IN_SCOPE, **params)
        return list(rows[0]["page"]) if rows else []
