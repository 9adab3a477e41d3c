"""Weights and thresholds of the risk model, with documented defaults (see docs/risk-model.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RiskSettings(BaseModel):
    """The risk model's knobs. Every weight is in [0, 1]; a factor's weight is its largest contribution."""

    # -- how factors combine into one score (noisy-or: 1 - prod(1 - weight * factor)) -------------------
    weight_performance: float = Field(0.6, ge=0, le=1, description="Weight of the performance factor")
    weight_events: float = Field(0.8, ge=0, le=1, description="Weight of the events factor")
    weight_structure: float = Field(0.5, ge=0, le=1, description="Weight of the structure factor")
    weight_concentration: float = Field(0.4, ge=0, le=1, description="Weight of the concentration factor")
    weight_inherited: float = Field(0.5, ge=0, le=1, description="Weight of the inherited factor")

    # -- performance ---------------------------------------------------------------------------------
    otif_target: float = Field(0.95, gt=0, le=1, description="OTIF at or above this carries no risk")
    otif_floor: float = Field(0.60, ge=0, lt=1, description="OTIF at or below this is the worst")
    lead_time_cv_ok: float = Field(
        0.25, ge=0, description="(p90 - mean) / mean lead time up to which variability carries no risk"
    )
    lead_time_cv_max: float = Field(
        1.0, gt=0, description="(p90 - mean) / mean lead time at which variability risk is 1"
    )
    quality_rate_max: float = Field(
        0.05, gt=0, description="Quality incidents per delivery at which quality risk is 1"
    )

    # -- events --------------------------------------------------------------------------------------
    disruption_at_enterprise: float = Field(1.0, ge=0, le=1, description="Open disruption at the enterprise")
    disruption_at_facility: float = Field(
        0.8, ge=0, le=1, description="Open disruption at one of its facilities"
    )
    disruption_in_region: float = Field(0.6, ge=0, le=1, description="Open disruption in its region")
    alarm_weight: float = Field(0.25, ge=0, le=1, description="Risk per recent high/critical equipment alarm")
    failing_equipment_weight: float = Field(
        0.3, ge=0, le=1, description="Risk per installed equipment at it in service alert (failing health)"
    )
    certificate_expiry_weight: float = Field(
        0.3, ge=0, le=1, description="Risk per certificate expiring soon or expired"
    )
    certificate_window_days: int = Field(60, ge=1, description="'Expiring soon' means within this many days")

    # -- structure -----------------------------------------------------------------------------------
    sole_source_buyers_max: int = Field(
        3, ge=1, description="Sole source for this many (buyer, sku) pairs gives sole-source risk 1"
    )
    weight_sole_source: float = Field(0.9, ge=0, le=1, description="Weight of being a sole source")
    weight_cut_vertex: float = Field(0.6, ge=0, le=1, description="Weight of being a cut vertex")
    weight_betweenness: float = Field(0.5, ge=0, le=1, description="Weight of relative betweenness")
    weight_downstream: float = Field(0.4, ge=0, le=1, description="Weight of the number of dependants")
    downstream_max: int = Field(
        1000, ge=1, description="This many enterprises within 3 tiers downstream give dependants risk 1 (log)"
    )
    betweenness_exact_max_nodes: int = Field(
        5000, ge=1, description="Exact betweenness up to this many enterprises; sampled above"
    )
    betweenness_pivots: int = Field(
        256, ge=1, description="Source pivots sampled for approximate betweenness (Brandes-Pich)"
    )
    betweenness_seed: int = Field(7, description="Seed of the pivot sample (results are reproducible)")

    # -- concentration -------------------------------------------------------------------------------
    hhi_threshold: float = Field(
        0.25, ge=0, le=1, description="HHI (0..1) above which a sku's supply counts as concentrated"
    )
    region_share_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A region holding at least this share of a sku is 'the concentrated region'",
    )

    # -- inherited -----------------------------------------------------------------------------------
    inherited_decay: float = Field(
        0.7, ge=0, lt=1, description="Share of an upstream score a fully dependent buyer inherits per tier"
    )
    inherited_rounds: int = Field(12, ge=1, description="Most propagation rounds (tiers) for inherited risk")
    inherited_epsilon: float = Field(
        0.001, gt=0, description="Incremental: stop propagating downstream when inherited risk moves less"
    )

    # -- supply links and facilities (score = likelihood x importance, see docs/risk-model.md) --------
    link_weight_performance: float = Field(
        0.8, ge=0, le=1, description="Supply link: weight of the link's own OTIF / lead-time / quality"
    )
    link_weight_supplier: float = Field(
        0.8, ge=0, le=1, description="Supply link: weight of the supplier's own risk score"
    )
    link_dependency_floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Supply link: importance of a link the buyer barely depends on; a sole source counts 1",
    )
    facility_weight_events: float = Field(
        0.9, ge=0, le=1, description="Facility: weight of disruptions and alarms at it or in its region"
    )
    facility_importance_floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Facility: importance when its operator has no structural weight; "
        "a structurally critical operator counts 1",
    )
    link_write_epsilon: float = Field(
        0.001, ge=0, description="Link and facility scores are rewritten only when they move more than this"
    )

    # -- alerts and freshness ------------------------------------------------------------------------
    alert_threshold: float = Field(
        0.6, ge=0, le=1, description="A score crossing this upward raises an alert"
    )
    alert_affected_tiers: int = Field(
        3,
        ge=1,
        le=10,
        description="An alert's affected downstream: the enterprises within this many tiers of the node",
    )
    severity_high: float = Field(0.75, ge=0, le=1, description="Score at or above which an alert is 'high'")
    severity_critical: float = Field(
        0.9, ge=0, le=1, description="Score at or above which an alert is 'critical'"
    )
    critical_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="What-if: losing this share of a sku stops a buyer once its cover runs out",
    )
    default_days_of_cover: float = Field(
        7.0, ge=0, description="What-if: days of inventory cover assumed where none is reported"
    )
    live: bool | None = Field(
        None,
        description="Run live risk in `supplynet worker --role risk` (its own process and consumer group; "
        "the pipeline worker never runs risk); default: on in production, off in development "
        "(a development risk process on a shared graph would otherwise rescore everyone's data)",
    )
    scope: str | None = Field(
        None, description="Live risk only for enterprises whose id starts with this prefix; empty = all"
    )
    incremental_seconds: float = Field(2.0, gt=0, description="How often the stream rescores touched nodes")
    incremental_slice: int = Field(
        500,
        ge=1,
        description="Most enterprises one rescoring call takes (a risk process rescores a backlog in "
        "slices of this size, so no single call holds it for long)",
    )
    web_port: int = Field(6067, description="The risk process's health endpoint (GET /healthz)")
    nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness the risk process adds to itself: on a shared host the validate/project "
        "worker gets the CPU first",
    )
    alert_resend_after_seconds: float = Field(
        300.0,
        gt=0,
        description="An alert claimed but not acknowledged by Kafka this long ago (its risk process died "
        "between the claim and the send) is sent again from the outbox by the next full recompute; longer "
        "than any send, so a live process's slow send is not doubled",
    )
    full_recompute_seconds: float = Field(
        900.0, gt=0, description="How often the stream recomputes everything (betweenness, HHI)"
    )
    full_reload_every: int = Field(
        4,
        ge=1,
        description="Every n-th full recompute first re-reads the whole projection from Neo4j (catching "
        "what no event announced: certificate windows, ended links); the others "
        "recompute from the network the worker holds, kept current by the incremental path. 1 = always",
    )
