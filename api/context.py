"""Per-request context: who is asking, and DataLoaders that batch graph reads (no N+1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from graph.views import GraphViews
from schema.tables import ApiKey


@dataclass
class Loaders:
    views: GraphViews
    enterprise: DataLoader[str, dict[str, Any] | None] = field(init=False)
    suppliers: DataLoader[str, list[dict[str, Any]]] = field(init=False)
    customers: DataLoader[str, list[dict[str, Any]]] = field(init=False)

    def __post_init__(self) -> None:
        self.enterprise = DataLoader(load_fn=self.views.enterprises)
        self.suppliers = DataLoader(load_fn=self.views.suppliers)
        self.customers = DataLoader(load_fn=self.views.customers)


class Context(BaseContext):
    def __init__(self, *, principal: ApiKey | None, views: GraphViews) -> None:
        super().__init__()
        self.principal = principal
        self.loaders = Loaders(views)
