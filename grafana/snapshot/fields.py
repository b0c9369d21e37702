"""A field's configuration for one series or column: the panel's defaults with the overrides that match its
name (byName, byRegexp), as Grafana resolves them."""
from __future__ import annotations

import copy
import re

from grafana.snapshot import colors


def _matches(matcher: dict, name: str) -> bool:
    kind, option = matcher.get("id"), matcher.get("options", "")
    if kind == "byName":
        return name == option
    if kind == "byRegexp":
        try:
            return re.search(option, name) is not None
        except re.error:
            return False
    return False


def config(panel: dict, name: str) -> dict:
    field = copy.deepcopy(panel.get("fieldConfig", {}).get("defaults", {}))
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if not _matches(override.get("matcher", {}), name):
            continue
        for prop in override.get("properties", []):
            node = field
            *path, last = prop["id"].split(".")
            for key in path:
                node = node.setdefault(key, {})
            node[last] = prop.get("value")
    return field


def fixed_color(field: dict) -> str | None:
    """The colour an override or the defaults fix for a field ("fixed" mode), else None."""
    color = field.get("color") or {}
    if color.get("mode") in ("fixed", "shades") and color.get("fixedColor"):
        return colors.resolve(color["fixedColor"])
    return None


def mapped(field: dict, value: float | None) -> tuple[str | None, str | None]:
    """(text, colour) a value mapping gives the value, or (None, None)."""
    if value is None:
        return None, None
    for mapping in field.get("mappings") or []:
        options = mapping.get("options") or {}
        if mapping.get("type") == "value":
            key = f"{value:g}"
            hit = options.get(key)
            if hit:
                return hit.get("text"), colors.resolve(hit["color"]) if hit.get("color") else None
        elif mapping.get("type") == "range":
            lo, hi = options.get("from"), options.get("to")
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                result = options.get("result") or {}
                return result.get("text"), colors.resolve(result["color"]) if result.get("color") else None
    return None, None
