"""Generate ``docs/configuration.md`` from the ``Settings`` model, so the doc never drifts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from supplynet.settings import Settings


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)"
    value: Any = field.default
    if isinstance(value, BaseModel):
        return ""
    if value is None:
        return "unset"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _rows(annotation, f"{prefix}{name.upper()}__")
            continue
        desc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {desc} |")
    return rows


def configuration_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `supplynet/settings.py` by `supplynet config docs`; do not edit by hand.",
        "",
        "Every setting is an environment variable (nested sections joined by `__`). A server address left",
        "unset means the local stack's own server, started by `supplynet stack up`; set it to use an",
        "existing cluster, and `stack up` starts nothing for it. `supplynet config show` prints the",
        "effective values (secrets masked).",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
        *_rows(Settings, "SUPPLYNET_"),
    ]
    return "\n".join(lines) + "\n"
