"""JSON clean-up: grafanalib 0.7.1's output -> the current Grafana dashboard model."""
from __future__ import annotations

from grafana.panels import DATASOURCE_NAME, DATASOURCE_UID, LONG_TERM_NAME, LONG_TERM_UID

SCHEMA_VERSION = 39  # what Grafana 10.4 / 11.x writes; newer Grafana migrates it forward

_DASHBOARD_LEGACY = ("__inputs", "rows", "sharedCrosshair", "hideControls", "style", "gnetId")
_PANEL_LEGACY = ("span", "height", "minSpan", "error", "editable", "cacheTimeout",
                 "hideTimeOverride", "maxDataPoints", "repeatDirection", "maxPerRow")
_TABLE_LEGACY = ("color", "columns", "fontSize", "mappings")
_TARGET_LEGACY = ("query", "target", "metric", "step", "intervalFactor")
_VARIABLE_LEGACY = ("useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count")


def _drop_none(d: dict) -> None:
    for k in [k for k, v in d.items() if v is None]:
        del d[k]


def _target(t: dict) -> dict:
    for k in _TARGET_LEGACY:
        t.pop(k, None)
    if not t.get("interval"):
        t.pop("interval", None)
    t["editorMode"] = "code"
    t["range"] = not t["instant"]
    t["exemplar"] = False
    return t


def _panel(p: dict) -> dict:
    if p["type"] == "row":
        return {k: p[k] for k in ("collapsed", "gridPos", "id", "panels", "title", "type")}
    for k in _PANEL_LEGACY:
        p.pop(k, None)
    if p.get("repeat") is None:
        p.pop("repeat", None)
    _drop_none(p)
    if p["type"] == "table":
        for k in _TABLE_LEGACY:
            p.pop(k, None)
        custom = p["fieldConfig"]["defaults"]["custom"]
        custom.pop("displayMode", None)
        custom["cellOptions"] = {"type": "auto"}
    if p["type"] == "bargauge":
        p["options"].pop("fieldOptions", None)
    defaults = p.get("fieldConfig", {}).get("defaults", {})
    _drop_none(defaults)
    _drop_none(defaults.get("custom", {}))
    p["targets"] = [_target(t) for t in p.get("targets", [])]
    return p


def _variable(v: dict) -> dict:
    for k in _VARIABLE_LEGACY:
        v.pop(k, None)
    _drop_none(v)
    v.setdefault("regex", "")
    # No ``definition`` (the editor's display copy of ``query``): @grafana/schema's VariableModel has no such
    # field, and the variable runs from ``query``.
    if v["type"] == "datasource" and v["name"] == "slo_source":
        v["current"] = {"selected": True, "text": LONG_TERM_NAME, "value": LONG_TERM_UID}
    elif v["type"] == "datasource":
        v["current"] = {"selected": True, "text": DATASOURCE_NAME, "value": DATASOURCE_UID}
    elif v["type"] == "query" and v.get("includeAll"):
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return v


def finalize(d: dict) -> dict:
    """Post-process ``Dashboard.to_json_data()`` (already turned into plain JSON types)."""
    for k in _DASHBOARD_LEGACY:
        d.pop(k, None)
    d["schemaVersion"] = SCHEMA_VERSION
    d["timepicker"] = {"hidden": False,
                       "refresh_intervals": d["timepicker"]["refresh_intervals"]}
    d["panels"] = [_panel(p) for p in d["panels"]]
    d["templating"]["list"] = [_variable(v) for v in d["templating"]["list"]]
    return d
