"""Generated supply networks of known shapes, for tests and benchmarks (deterministic per seed)."""

from __future__ import annotations

import random

from graph.risk.facts import Enterprise, Network, OpenDisruption, SupplyLink

REGIONS = ("湖北省 武汉市", "江苏省 苏州市", "广东省 深圳市", "辽宁省 鞍山市", "上海市", "四川省 成都市")
INDUSTRIES = ("steel", "petrochemical", "non-ferrous", "chemical", "machinery", "automotive", "electronics")


def _enterprise(rng: random.Random, eid: str, *, kpis: bool) -> Enterprise:
    disruptions: tuple[OpenDisruption, ...] = ()
    if kpis and rng.random() < 0.03:
        disruptions = (OpenDisruption(f"{eid}-d", rng.choice(("low", "high")), "enterprise", 10.0, "fire"),)
    return Enterprise(
        eid,
        name=eid,
        industry=rng.choice(INDUSTRIES),
        region=rng.choice(REGIONS),
        days_of_cover=float(rng.randint(0, 20)),
        disruptions=disruptions,
        recent_alarms=rng.choice((0, 0, 0, 1)) if kpis else 0,
        facilities=(f"{eid}-f1",),
    )


def _link(rng: random.Random, a: str, b: str, sku: str, *, kpis: bool) -> SupplyLink:
    if not kpis:
        share = None if rng.random() < 0.3 else round(rng.uniform(0.1, 1.0), 2)
        cover = float(rng.randint(0, 30)) if rng.random() < 0.5 else None
        return SupplyLink(a, b, sku, share=share, days_of_cover=cover)
    mean = rng.uniform(5, 30)
    return SupplyLink(
        a,
        b,
        sku,
        share=round(rng.uniform(0.1, 1.0), 2),
        lead_time_days=mean,
        otif=min(1.0, rng.betavariate(18, 1.5)),  # mostly 0.85-1.0, a tail of poor performers
        lead_time_mean=mean,
        lead_time_p90=mean * rng.uniform(1.0, 1.6),
        quality_incident_rate=rng.expovariate(1 / 0.006),
        days_of_cover=float(rng.randint(0, 30)),
    )


def network(
    shape: str,
    n: int,
    *,
    seed: int = 1,
    links_per_node: int = 3,
    skus: int = 8,
    prefix: str = "E",
    kpis: bool = False,
) -> Network:
    """A network of ``n`` enterprises: ``chain``, ``tree``, ``diamond``, ``dag`` (random, tiered) or
    ``cyclic`` (a random DAG plus back links). Each link carries one of ``skus`` material skus.
    """
    rng = random.Random(seed)  # noqa: S311 (test data)
    ids = [f"{prefix}{i:06d}" for i in range(n)]
    ents = [_enterprise(rng, eid, kpis=kpis) for eid in ids]
    sku = [f"SKU-{k:03d}" for k in range(skus)]
    pairs: list[tuple[int, int]] = []
    if shape == "chain":
        pairs = [(i, i + 1) for i in range(n - 1)]
    elif shape == "tree":  # suppliers feed one buyer each: leaves upstream, root downstream
        pairs = [(i, (i - 1) // 2) for i in range(1, n)]
    elif shape == "diamond":  # stacked diamonds: a -> b, a -> c, b -> d, c -> d, d -> next a
        for i in range(0, n - 3, 3):
            pairs += [(i, i + 1), (i, i + 2), (i + 1, i + 3), (i + 2, i + 3)]
    elif shape in ("dag", "cyclic"):
        for j in range(1, n):
            for _ in range(rng.randint(1, links_per_node)):
                pairs.append(
                    (rng.randrange(max(0, j - 50), j) if rng.random() < 0.8 else rng.randrange(j), j)
                )
        if shape == "cyclic":
            for _ in range(max(1, n // 20)):
                a = rng.randrange(n)
                pairs.append((a, rng.randrange(max(0, a - 10), a + 1)))
    else:
        raise ValueError(f"unknown shape {shape!r}: chain, tree, diamond, dag or cyclic")
    # each buyer needs a few skus and spreads them over its suppliers (multi-sourcing is common)
    needs = [rng.sample(sku, min(len(sku), rng.randint(1, 3))) for _ in range(n)]
    unique = [(a, b) for a, b in dict.fromkeys(pairs) if a != b]
    links = [_link(rng, ids[a], ids[b], rng.choice(needs[b]), kpis=kpis) for a, b in unique]
    return Network.of(ents, links)
