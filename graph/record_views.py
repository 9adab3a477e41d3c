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

DISRUPTIONS = """
CALL () {
  UNWIND coalesce($allowed, []) AS a
  MATCH (e:Enterprise {id: a})
  RETURN collect(DISTINCT e.region) AS scopeRegions
}
MATCH (d:Disruption)
WHERE ($status IS NULL OR d.status = $status)
  AND ($kind IS NULL OR d.kind = $kind)
  AND ($severity IS NULL OR d.severity = $severity)
  AND ($afterId IS NULL OR d.id > $afterId)
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
"""Open disruptions are few (the ``Disruption(status)`` index); the id order needs no index of its own."""


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
        rows = await self._read(DISRUPTIONS, **params)
        return list(rows[0]["page"]) if rows else []
