"""GraphQL types of the supply-chain views."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context


@strawberry.type(description="A company in the network: steel mill, refinery, OEM, logistics partner, ...")
class Enterprise:
    id: strawberry.ID
    name: str | None
    industry: str | None
    region: str | None
    country: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Enterprise:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row.get("name"),
            industry=row.get("industry"),
            region=row.get("region"),
            country=row.get("country"),
        )

    @strawberry.field(description="Who supplies this enterprise (tier 1 upstream), one entry per sku.")
    async def suppliers(self, info: Info[Context, None]) -> list[SupplyLink]:
        rows = await info.context.loaders.suppliers.load(str(self.id))
        return [SupplyLink.from_row(r) for r in rows]

    @strawberry.field(description="Whom this enterprise supplies (tier 1 downstream), one entry per sku.")
    async def customers(self, info: Info[Context, None]) -> list[SupplyLink]:
        rows = await info.context.loaders.customers.load(str(self.id))
        return [SupplyLink.from_row(r) for r in rows]


@strawberry.type(description="A supply relationship for one material (sku) between two enterprises.")
class SupplyLink:
    partner: Enterprise
    sku: str
    share: float | None = strawberry.field(description="Share of the buyer's need for this sku, 0..1")
    lead_time_days: int | None
    valid_from: date | None
    valid_to: date | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SupplyLink:
        link = row["link"]
        return cls(
            partner=Enterprise.from_row(row["partner"]),
            sku=link["sku"],
            share=link.get("share"),
            lead_time_days=link.get("leadTimeDays"),
            valid_from=_date(link.get("validFrom")),
            valid_to=_date(link.get("validTo")),
        )


def _date(v: Any) -> date | None:
    native = v.to_native() if v is not None and hasattr(v, "to_native") else v
    return native if isinstance(native, date) else None


@strawberry.type
class Query:
    @strawberry.field(description="One enterprise by its business id.")
    async def enterprise(self, info: Info[Context, None], id: strawberry.ID) -> Enterprise | None:
        row = await info.context.loaders.enterprise.load(str(id))
        return Enterprise.from_row(row) if row else None
