"""Events scheduled ahead over the year: the planted flood and plant outage, background disruptions,
and design projects with their partners, revisions and change requests. Each function schedules into
a ``History`` (``History.later``); nothing here emits directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from connectors.world.catalog import BOMS, MATERIAL, SERVICES, TOP_PRODUCTS
from connectors.world.geography import BY_KEY, CITIES, City
from connectors.world.world import SKUS
from schema.events import (
    ComponentChange,
    DesignChangeRequested,
    DesignPartnerJoined,
    DesignProjectCreated,
    DesignRevisionPublished,
    DesignRole,
    DisruptionKind,
    DisruptionReported,
    DisruptionResolved,
    RevisionComponent,
    Severity,
)

if TYPE_CHECKING:
    from connectors.world.history import History

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HISTORY_DAYS = 365
FLOOD_DAYS_BEFORE_END = 9
"""The planted flood is reported this many days before the end."""
OUTAGE_DAYS_BEFORE_END = 6
"""The planted outage is reported this many days before the end."""
COLLAPSE_ALARM_DAYS_BEFORE_END = (11, 4)
"""The collapsing supplier's high equipment alarms, this many days before the end."""
MATERIAL_INDUSTRIES = {"steel", "petrochemical", "non-ferrous", "chemical"}

FEED = "world-feed/disruptions"
PROJECTS = (
    ("轻量化车身", "Lightweight body"),
    ("新一代电子电气架构", "Next-generation E/E architecture"),
    ("电驱系统降本", "E-drive cost-down"),
    ("驾驶室升级", "Cab upgrade"),
    ("国六排放适配", "China VI emissions adaptation"),
    ("智能座舱", "Smart cockpit"),
    ("底盘平台", "Chassis platform"),
)
CHANGE_REASONS = (
    "reduce mass by 8% to meet the fleet consumption target",
    "supplier cost-down proposal accepted",
    "durability test failure: stiffen the part",
    "replace a part affected by an allocation",
    "harmonise with the platform's second variant",
)
BACKGROUND_DISRUPTIONS = (
    (DisruptionKind.POWER_OUTAGE, Severity.MEDIUM, "enterprise", "grid load shedding in a heat wave"),
    (DisruptionKind.FIRE, Severity.HIGH, "facility", "fire in a cable trench; production paused"),
    (DisruptionKind.EQUIPMENT, Severity.MEDIUM, "facility", "unplanned maintenance of a main line"),
    (DisruptionKind.FLOOD, Severity.HIGH, "region", "heavy rain and waterlogging; roads closed"),
    (DisruptionKind.LOGISTICS, Severity.LOW, "region", "low Yangtze water: barges light-loaded"),
    (DisruptionKind.CYBER, Severity.MEDIUM, "enterprise", "ransomware on the ERP; orders by phone"),
)


def planted(h: History) -> None:
    w = h.w
    p = h.planted
    flood = BY_KEY[p.flood_city]
    flood_ms = h.end_ms - FLOOD_DAYS_BEFORE_END * DAY_MS + 5 * HOUR_MS
    disruption(
        h,
        flood_ms,
        None,
        f"{w.prefix}dis-flood-{p.flood_city}",
        DisruptionKind.FLOOD,
        Severity.CRITICAL,
        30,
        region=w.region_of(flood),
        description=f"Yangtze flood crest at {flood.en}: dike breach, industrial parks and roads flooded",
    )
    outage_ms = h.end_ms - OUTAGE_DAYS_BEFORE_END * DAY_MS + 3 * HOUR_MS
    for k, days in enumerate((12, 10, 8)):
        sev = Severity.CRITICAL if k == 2 else Severity.HIGH
        h.alarm(p.outage, h.end_ms - days * DAY_MS + 2 * HOUR_MS, background=False, severity=sev)
    # The collapsing supplier's key line is failing ("key equipment down, output reduced" is among its
    # delay reasons): two high alarms in the last two weeks, beside its collapsed deliveries.
    for days in COLLAPSE_ALARM_DAYS_BEFORE_END:
        h.alarm(p.collapse, h.end_ms - days * DAY_MS + 4 * HOUR_MS, background=False, severity=Severity.HIGH)
    disruption(
        h,
        outage_ms,
        None,
        f"{w.prefix}dis-outage-{w.ids[p.outage]}",
        DisruptionKind.EQUIPMENT,
        Severity.CRITICAL,
        40,
        facility_id=h.main_facility[p.outage],
        description="main drive of the rolling line failed; line stopped, gearbox replacement ordered",
    )


def disruption(
    h: History,
    t_ms: int,
    resolved_ms: int | None,
    did: str,
    kind: DisruptionKind,
    severity: Severity,
    recovery_days: int,
    *,
    region: str | None = None,
    enterprise: int | None = None,
    facility_id: str | None = None,
    description: str,
) -> None:
    w = h.w
    h.later(
        t_ms,
        FEED,
        DisruptionReported(
            disruption_id=did,
            kind=kind,
            severity=severity,
            expected_recovery_days=recovery_days,
            enterprise_id=w.ids[enterprise] if enterprise is not None else None,
            facility_id=facility_id,
            region=region,
            description=description,
        ),
    )
    if resolved_ms is not None:
        h.later(resolved_ms, FEED, DisruptionResolved(disruption_id=did, note="operations back to normal"))
    h.disruptions.append(
        {
            "id": did,
            "kind": kind.value,
            "severity": severity.value,
            "region": region,
            "enterprise": w.ids[enterprise] if enterprise is not None else None,
            "facility": facility_id,
            "reported": datetime.fromtimestamp(t_ms / 1000, UTC).isoformat(),
            "resolved": datetime.fromtimestamp(resolved_ms / 1000, UTC).isoformat() if resolved_ms else None,
        }
    )


def disruptions(h: History) -> None:
    """Background disruptions, each resolved at least two weeks before the end."""
    w, rng = h.w, h.rng
    p = h.planted
    n = len(w.ids)
    for k in range(w.size.disruptions):
        kind, severity, where, text = BACKGROUND_DISRUPTIONS[k % len(BACKGROUND_DISRUPTIONS)]
        recovery = rng.randint(2, 12)
        start = rng.randrange(10, HISTORY_DAYS - 14 - recovery - 5)
        if kind == DisruptionKind.FLOOD:
            start = rng.randrange(180, 240)  # the summer rains
        t = h.start_ms + start * DAY_MS + rng.randrange(DAY_MS)
        resolved = t + (recovery + rng.randint(-1, 3)) * DAY_MS
        i = rng.randrange(n)
        city: City = rng.choice([c for c in CITIES if c.in_hubei and c.key != p.flood_city])
        disruption(
            h,
            t,
            resolved,
            f"{w.prefix}dis-{k + 1:05d}",
            kind,
            severity,
            recovery,
            region=w.region_of(city) if where == "region" else None,
            enterprise=i if where == "enterprise" else None,
            facility_id=h.main_facility[i] if where == "facility" else None,
            description=text,
        )


def projects(h: History) -> None:
    """Design projects of the makers at the top, shared with their suppliers, a design house and a
    testing lab; revisions and change requests follow over the year."""
    w, rng = h.w, h.rng
    n = len(w.ids)
    tops = [i for i in range(n) if w.role_of(i).outputs and w.role_of(i).outputs[0] in TOP_PRODUCTS]
    houses = [i for i in range(n) if w.role_of(i).key == "design-house"]
    labs = [i for i in range(n) if w.role_of(i).key == "testing-lab"]
    for k in range(w.size.design_projects):
        owner = tops[k % len(tops)]
        product = w.role_of(owner).outputs[0]
        pid = f"{w.prefix}dp-{k + 1:05d}"
        zh, en = PROJECTS[rng.randrange(len(PROJECTS))]
        src = h.source(owner)
        t = h.start_ms + rng.randrange(10, 200) * DAY_MS + rng.randrange(9 * HOUR_MS)
        h.later(
            t,
            src,
            DesignProjectCreated(
                project_id=pid,
                name=f"{zh} {2027 + k % 3} ({en} {2027 + k % 3})",
                owner_id=w.ids[owner],
                product_sku=product,
                description=f"{en} for the {MATERIAL[product].en.lower()} line",
            ),
        )
        direct = list(
            dict.fromkeys(
                w.link_supplier[li] for li in w.links_of(owner) if SKUS[w.link_sku[li]] not in SERVICES
            )
        )
        tier1 = rng.sample(direct, min(len(direct), rng.randint(2, 4)))
        tier2 = list(
            dict.fromkeys(
                w.link_supplier[li]
                for s in tier1
                for li in w.links_of(s)
                if SKUS[w.link_sku[li]] not in SERVICES
            )
        )
        partners = [(i, DesignRole.TIER1) for i in tier1]
        partners += [
            (
                i,
                DesignRole.MATERIAL_SUPPLIER
                if w.role_of(i).industry in MATERIAL_INDUSTRIES
                else DesignRole.TIER2,
            )
            for i in rng.sample(tier2, min(len(tier2), 2))
        ]
        partners += [
            (rng.choice(houses), DesignRole.DESIGN_HOUSE),
            (rng.choice(labs), DesignRole.TESTING_LAB),
        ]
        partners = list(dict((i, r) for i, r in partners if i != owner).items())
        t += DAY_MS
        for i, role in partners:
            t += rng.randrange(HOUR_MS, 3 * DAY_MS)
            h.later(t, src, DesignPartnerJoined(project_id=pid, enterprise_id=w.ids[i], role=role))
        bom = [s for s, _ in BOMS[product]]
        for r in range(rng.randint(2, 5)):
            t += rng.randrange(20, 60) * DAY_MS
            changed = [
                RevisionComponent(
                    sku=s,
                    change=ComponentChange.MODIFIED,
                    qty=round(dict(BOMS[product])[s] * rng.uniform(0.8, 1.1), 3),
                )
                for s in rng.sample(bom, 2)
            ]
            if product in ("PASSENGER-CAR", "HEAVY-TRUCK") and r == 1:
                changed.append(RevisionComponent(sku="AL-CASTING", change=ComponentChange.ADDED, qty=4.0))
            h.later(
                t,
                src,
                DesignRevisionPublished(
                    project_id=pid,
                    revision_id=f"{pid}-r{r + 1}",
                    label=f"{'ABCDE'[r]}0",
                    changed_components=changed,
                ),
            )
            if rng.random() < 0.6:
                t += rng.randrange(2, 10) * DAY_MS
                h.later(
                    t,
                    src,
                    DesignChangeRequested(
                        project_id=pid,
                        change_id=f"{pid}-ecr{r + 1}",
                        affected_skus=rng.sample(bom, rng.randint(1, 3)),
                        reason=rng.choice(CHANGE_REASONS),
                        required_by=datetime.fromtimestamp(t / 1000, UTC).date()
                        + timedelta(days=rng.randint(30, 120)),
                    ),
                )
        h.projects.append({"id": pid, "owner": w.ids[owner], "partners": [w.ids[i] for i, _ in partners]})
