"""Reads behind crowd design: open calls (with the asking enterprise's eligibility) and proposals, each
already restricted to what a partner may see (see docs/design-collaboration.md#who-sees-what-1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import AsyncDriver

from graph import model
from graph.views import read_records

Record = dict[str, Any]

_CALLS = f"""
MATCH (c:DesignCall)
WHERE c.openedV IS NOT NULL AND ($id IS NULL OR c.id = $id) AND ($project IS NULL OR c.projectId = $project)
  AND (NOT $openOnly OR (c.awardedTo IS NULL AND c.deadlineAt >= timestamp()))
OPTIONAL MATCH (e:Enterprise {{id: $me}})
WITH c, e, timestamp() AS t, date() AS day
WITH c, e, CASE WHEN $me IS NULL THEN null
  WHEN c.awardedTo IS NOT NULL THEN 'call ' + c.id + ' was already awarded'
  ELSE {model.ELIGIBILITY} END AS reason
WHERE $me IS NULL OR c.enterpriseId = $me OR c.enterpriseId IN $scope
   OR (reason IS NULL AND c.awardedTo IS NULL)
   OR EXISTS {{ (e)<-[:PROPOSES]-(:DesignProposal)-[:ANSWERS]->(c) }}
WITH c, reason ORDER BY c.deadlineAt, c.id LIMIT $limit
OPTIONAL MATCH (o:Enterprise {{id: c.enterpriseId}})
RETURN c {{.*}} AS call, o.name AS callerName, reason
"""

_PROPOSALS = """
MATCH (p:DesignProposal)
WHERE p.submittedV IS NOT NULL AND ($calls IS NULL OR p.callId IN $calls) AND ($id IS NULL OR p.id = $id)
OPTIONAL MATCH (c:DesignCall {id: p.callId})
WITH p, c WHERE $me IS NULL OR p.enterpriseId = $me OR c.enterpriseId = $me
OPTIONAL MATCH (e:Enterprise {id: p.enterpriseId})
RETURN p {.*} AS proposal, e.name AS proposerName, c.enterpriseId AS callerId,
       c.awardedProposalId AS awardedProposalId, c.awardedTo AS awardedTo, c.projectId AS projectId
ORDER BY p.callId, p.id LIMIT $limit
"""

_CALL_OF = f"""
MATCH (c:DesignCall {{id: $id}}) WHERE c.openedV IS NOT NULL
OPTIONAL MATCH (e:Enterprise {{id: $me}})
WITH c, e, timestamp() AS t, date() AS day
RETURN c {{.*}} AS call, CASE WHEN $me IS NULL THEN null
  WHEN c.awardedTo IS NOT NULL THEN 'call ' + c.id + ' was already awarded'
  ELSE {model.ELIGIBILITY} END AS reason
"""

_PROPOSAL_OF = """
MATCH (p:DesignProposal {id: $id})
RETURN p {.*} AS proposal
"""


class CrowdViews:
    """Neo4j reads for open calls and proposals; one round trip each."""

    def __init__(
        self, driver: AsyncDriver, *, database: str = "neo4j", timeout_s: float | None = None
    ) -> None:
        self.driver = driver
        self.database = database
        self.timeout_s = timeout_s

    async def _read(self, query: str, **params: Any) -> list[Record]:
        return await read_records(self.driver, self.database, query, params, timeout_s=self.timeout_s)

    async def calls(
        self,
        *,
        call_id: str | None,
        project_id: str | None,
        open_only: bool,
        me: str | None,
        scope: Sequence[str] | None,
        limit: int,
    ) -> list[Record]:
        """Calls by deadline; with ``me`` (a partner's enterprise) only those it may see — its own, those
        of enterprises in ``scope``, those it is eligible for now, those it proposed to — each with
        ``reason``: why ``me`` may not propose now (null: it may)."""
        return await self._read(
            _CALLS,
            id=call_id,
            project=project_id,
            openOnly=open_only,
            me=me,
            scope=list(scope or []),
            limit=limit,
        )

    async def proposals(
        self, *, call_ids: Sequence[str] | None, proposal_id: str | None, me: str | None, limit: int
    ) -> list[Record]:
        """Proposals by call and id; with ``me`` only its own and those to calls it opened."""
        return await self._read(
            _PROPOSALS,
            calls=list(call_ids) if call_ids is not None else None,
            id=proposal_id,
            me=me,
            limit=limit,
        )

    async def call(self, call_id: str, *, me: str | None) -> Record | None:
        """One call (unrestricted) and why ``me`` may not propose to it now (null: it may)."""
        rows = await self._read(_CALL_OF, id=call_id, me=me)
        return rows[0] if rows else None

    async def proposal(self, proposal_id: str) -> Record | None:
        """One proposal as stored (unrestricted), or ``None``."""
        rows = await self._read(_PROPOSAL_OF, id=proposal_id)
        return dict(rows[0]["proposal"]) if rows else None
