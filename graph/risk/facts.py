"""What the risk model reads: enterprises, supply links and the events around them (plain data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

SEVERITY_WEIGHT = {"low": 0.3, "medium": 0.6, "high": 0.85, "critical": 1.0}
"""How much one open disruption of each severity weighs before its location weight."""


@dataclass(frozen=True, slots=True)
class SupplyLink:
    """A current SUPPLIES relationship with its KPIs (``None`` = not reported yet)."""

    supplier: str
    buyer: str
    sku: str
    share: float | None = None
    lead_time_days: float | None = None
    annual_volume: float | None = None
    otif: float | None = None
    lead_time_mean: float | None = None
    lead_time_p90: float | None = None
    quality_incident_rate: float | None = None
    days_of_cover: float | None = None  # the buyer's stock of this sku, in days of usage

    @property
    def volume(self) -> float:
        """The link's weight in a sku's supply: annual volume, else the buyer's share, else 1."""
        if self.annual_volume is not None:
            return self.annual_volume
        return self.share if self.share is not None else 1.0


@dataclass(frozen=True, slots=True)
class OpenDisruption:
    id: str
    severity: str
    where: str  # "enterprise", "facility" or "region"
    expected_recovery_days: float | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Enterprise:
    """One enterprise and the facts about it the model scores."""

    id: str
    name: str | None = None
    industry: str | None = None
    region: str | None = None
    days_of_cover: float | None = None
    disruptions: tuple[OpenDisruption, ...] = ()
    recent_alarms: int = 0
    expiring_certificates: int = 0
    facilities: tuple[str, ...] = ()
    failing_equipment: int = 0
    """Installed equipment it runs whose health is in service alert (``graph/health.py``)."""


@dataclass(frozen=True, slots=True)
class Facility:
    """One facility (plant, warehouse) and the events at it: open disruptions affecting the facility
    (``where="facility"``) or its region (``where="region"``), recent high/critical equipment alarms."""

    id: str
    operator: str | None = None
    region: str | None = None
    disruptions: tuple[OpenDisruption, ...] = ()
    recent_alarms: int = 0
    failing_equipment: int = 0
    """Installed equipment at it whose health is in service alert (``graph/health.py``)."""


@dataclass
class Network:
    """Enterprises, supply links and facilities; links to unknown enterprises create bare enterprises."""

    enterprises: dict[str, Enterprise] = field(default_factory=dict)
    links: list[SupplyLink] = field(default_factory=list)
    facilities: dict[str, Facility] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        enterprises: Iterable[Enterprise],
        links: Iterable[SupplyLink],
        facilities: Iterable[Facility] = (),
    ) -> Network:
        net = cls({e.id: e for e in enterprises}, list(links), {f.id: f for f in facilities})
        ents = net.enterprises
        for link in net.links:  # only the missing ones are built: a frozen dataclass's init is slow
            if link.supplier not in ents:
                ents[link.supplier] = Enterprise(link.supplier)
            if link.buyer not in ents:
                ents[link.buyer] = Enterprise(link.buyer)
        return net

    def suppliers_by_buyer_sku(self) -> dict[tuple[str, str], list[SupplyLink]]:
        """(buyer, sku) -> the links that supply it; self-loops are ignored."""
        out: dict[tuple[str, str], list[SupplyLink]] = defaultdict(list)
        for link in self.links:
            if link.supplier != link.buyer:
                out[(link.buyer, link.sku)].append(link)
        return out

    def effective_shares(self) -> dict[tuple[str, str, str], float]:
        """(supplier, buyer, sku) -> the buyer's dependency share on that supplier for that sku.

        Reported shares are used when every link of the (buyer, sku) has one (capped at 1 in total);
        otherwise the buyer is assumed to split the sku evenly among its suppliers.
        """
        out: dict[tuple[str, str, str], float] = {}
        for (buyer, sku), links in self.suppliers_by_buyer_sku().items():
            for lk, share in zip(links, dependency_shares(links), strict=True):
                out[(lk.supplier, buyer, sku)] = share
        return out


def dependency_shares(links: list[SupplyLink]) -> list[float]:
    """The buyer's dependency share on each of the links that supply it one sku (see ``effective_shares``)."""
    shares = [lk.share for lk in links]
    if all(s is not None for s in shares):
        total = sum(s for s in shares if s is not None)
        scale = 1.0 / total if total > 1.0 else 1.0
        return [(s or 0.0) * scale for s in shares]
    return [1.0 / len(links)] * len(links)
