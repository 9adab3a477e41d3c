"""Collaborative design: projects, their partners, revisions and change requests."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, named
from graph.rows import GraphRows, Stamp
from schema.events import (
    DesignChangeAnswered,
    DesignChangeRequested,
    DesignPartnerJoined,
    DesignProjectCreated,
    DesignRevisionPublished,
)


def _created(b: GraphRows, d: DesignProjectCreated, st: Stamp) -> None:
    created = {"name": d.name, "description": d.description, "productSku": d.product_sku, "createdAt": st.t}
    b.node(model.DESIGN_PROJECT, d.project_id, "created", created, st)
    b.link(model.PROJECT_OWNER, d.project_id, d.owner_id, st)
    b.link(model.PROJECT_PRODUCT, d.project_id, d.product_sku, st)


def _joined(b: GraphRows, d: DesignPartnerJoined, st: Stamp) -> None:
    joined = {"role": d.role.value, "joinedAt": st.t}
    b.rel(model.COLLABORATES_ON, d.enterprise_id, d.project_id, {}, "joined", joined, st)


def _published(b: GraphRows, d: DesignRevisionPublished, st: Stamp) -> None:
    published = {
        "label": d.label,
        "projectId": d.project_id,
        "publishedAt": st.t,
        "uri": d.uri,
        "contentHash": d.content_hash,
    }
    b.node(model.DESIGN_REVISION, d.revision_id, "published", published, st)
    b.link(model.REVISION_PROJECT, d.revision_id, d.project_id, st)
    for c in d.changed_components:
        b.rel(model.CHANGES, d.revision_id, c.sku, {}, "change", {"change": c.change.value, "qty": c.qty}, st)


def _requested(b: GraphRows, d: DesignChangeRequested, st: Stamp) -> None:
    requested = {
        "projectId": d.project_id,
        "reason": d.reason,
        "requiredBy": d.required_by,
        "affectedSkus": list(d.affected_skus),
        "requestedAt": st.t,
    }
    b.node(model.CHANGE_REQUEST, d.change_id, "requested", requested, st)
    b.link(model.CHANGE_PROJECT, d.change_id, d.project_id, st)
    for sku in d.affected_skus:
        b.rel(model.IMPACTS, d.change_id, sku, {}, "", {}, st)


def _answered(b: GraphRows, d: DesignChangeAnswered, st: Stamp) -> None:
    answered = {
        "status": d.decision.value,
        "answeredBy": d.enterprise_id,
        "answerNote": d.note,
        "answeredAt": st.t,
    }
    b.node(model.CHANGE_REQUEST, d.change_id, "answered", answered, st)


def _nothing(_: DesignRevisionPublished | DesignChangeRequested) -> Named:
    return Named()


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(DesignProjectCreated, _created, lambda d: named(enterprises=[d.owner_id])),
    EventUnit(DesignPartnerJoined, _joined, lambda d: named(enterprises=[d.enterprise_id])),
    EventUnit(DesignRevisionPublished, _published, _nothing),
    EventUnit(DesignChangeRequested, _requested, _nothing),
    EventUnit(DesignChangeAnswered, _answered, lambda d: named(enterprises=[d.enterprise_id])),
)
