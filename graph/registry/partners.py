"""Partners: registration and updates of enterprises, facilities, certificates (master data)."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.names import name_search_keys
from graph.registry.unit import EventUnit, Named, enum_value, named
from graph.rows import GraphRows, Stamp
from schema.events import (
    CertificationExpired,
    CertificationGranted,
    FacilityRegistered,
    PartnerRegistered,
    PartnerUpdated,
)


def _partner(b: GraphRows, d: PartnerRegistered | PartnerUpdated, st: Stamp, *, full: bool) -> None:
    k = model.ENTERPRISE
    if full or d.name is not None:
        # The pinyin search key travels with the name (same aspect, same version): never stale.
        keys = name_search_keys(d.name) if d.name is not None else None
        b.node(k, d.enterprise_id, "name", {"name": d.name, "namePinyin": keys}, st)
    for aspect, value in (
        ("industry", enum_value(d.industry)),
        ("country", d.country),
        ("capabilities", d.capabilities),
    ):
        if full or value is not None:
            b.node(k, d.enterprise_id, aspect, {aspect: value}, st)
    if full or d.region is not None:
        b.link(model.ENTERPRISE_REGION, d.enterprise_id, d.region, st)


def _registered(b: GraphRows, d: PartnerRegistered, st: Stamp) -> None:
    _partner(b, d, st, full=True)


def _updated(b: GraphRows, d: PartnerUpdated, st: Stamp) -> None:
    _partner(b, d, st, full=False)


def _partner_names(d: PartnerRegistered | PartnerUpdated) -> Named:
    return named(enterprises=[d.enterprise_id], regions=[d.region])


def _enterprise(d: PartnerRegistered | PartnerUpdated) -> tuple[str, str]:
    return ("Enterprise", d.enterprise_id)


def _facility(b: GraphRows, d: FacilityRegistered, st: Stamp) -> None:
    b.node(
        model.FACILITY,
        d.facility_id,
        "registered",
        {"name": d.name, "kind": d.kind.value, "latitude": d.latitude, "longitude": d.longitude},
        st,
    )
    b.link(model.FACILITY_OPERATOR, d.facility_id, d.enterprise_id, st)
    b.link(model.FACILITY_REGION, d.facility_id, d.region, st)


def _granted(b: GraphRows, d: CertificationGranted, st: Stamp) -> None:
    b.node(
        model.CERTIFICATION,
        d.certificate_id,
        "granted",
        {"standard": d.standard, "issuer": d.issuer, "validFrom": d.valid_from, "validUntil": d.valid_until},
        st,
    )
    b.link(model.CERTIFICATION_HOLDER, d.certificate_id, d.enterprise_id, st)


def _expired(b: GraphRows, d: CertificationExpired, st: Stamp) -> None:
    b.node(
        model.CERTIFICATION, d.certificate_id, "expired", {"expiredReason": d.reason, "expiredAt": st.t}, st
    )
    b.link(model.CERTIFICATION_HOLDER, d.certificate_id, d.enterprise_id, st)


def _holder(d: CertificationGranted | CertificationExpired) -> Named:
    return named(enterprises=[d.enterprise_id])


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(PartnerRegistered, _registered, _partner_names, master=_enterprise),
    EventUnit(PartnerUpdated, _updated, _partner_names, master=_enterprise),
    EventUnit(
        FacilityRegistered,
        _facility,
        lambda d: named(enterprises=[d.enterprise_id], facilities=[d.facility_id], regions=[d.region]),
        master=lambda d: ("Facility", d.facility_id),
    ),
    EventUnit(CertificationGranted, _granted, _holder),
    EventUnit(CertificationExpired, _expired, _holder),
)
