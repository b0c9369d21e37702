"""The review as Markdown with PNG charts (matplotlib, Agg: no display needed)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import monitoring_spec as spec
from monitoring_spec.promql import num
from stack.review.data import Section


def when(ts: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt) + ("" if fmt == "%a %d %b" else " UTC")


def day_label(ts: float) -> str:
    """A day by its start: the date at midnight, with the time when the period's days do not start at midnight."""
    return datetime.fromtimestamp(ts, UTC).strftime("%a %d %b" if ts % 86400 == 0 else "%a %d %H:%M")


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f}%"


def count(x: float | None) -> str:
    return "no data" if x is None else f"{x:,.0f}"


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"


class Charts:
    def __init__(self, out_dir: Path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt, self.out_dir, self.files = plt, out_dir, []

    def save(self, fig, name: str) -> str:
        fig.tight_layout()
        fig.savefig(self.out_dir / name, dpi=90)
        self.plt.close(fig)
        self.files.append(name)
        return name

    def bars(self, name: str, title: str, labels: list[str], series: dict[str, list[float]], ylabel: str,
             line: float | None = None, line_label: str = "") -> str:
        fig, ax = self.plt.subplots(figsize=(8, 3.6))
        width = 0.8 / max(1, len(series))
        for i, (label, values) in enumerate(series.items()):
            ax.bar([x + i * width for x in range(len(labels))], [v if v is not None else 0 for v in values],
                   width=width, label=label)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels, fontsize=8)
        if line is not None:
            ax.axhline(line, color="red", linestyle="--", linewidth=1, label=line_label)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if len(series) > 1 or line is not None:
            ax.legend(fontsize=8)
        return self.save(fig, name)

    def barh(self, name: str, title: str, labels: list[str], values: list[float], xlabel: str,
             line: float | None = None) -> str:
        fig, ax = self.plt.subplots(figsize=(8, 0.5 + 0.45 * max(3, len(labels))))
        ax.barh(labels[::-1], values[::-1], color="tab:orange")
        if line is not None:
            ax.axvline(line, color="red", linestyle="--", linewidth=1)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        return self.save(fig, name)


def render(sections: list[Section], start: float, end: float, source: str, out_dir: Path) -> str:
    charts = Charts(out_dir)
    md = [f"# Weekly review: {when(start)} to {when(end)}", "",
          f"From {source}; the guide's post-launch checklist (docs: monitoring guide, section 8). "
          "Targets and thresholds from `monitoring_spec/`.", ""]
    empty = [s.title for s in sections if s.empty]
    md += ["Sections with no data: " + ("; ".join(empty) if empty else "none"), ""]
    for section in sections:
        md += [f"## {section.title}", ""]
        if section.empty:
            md += [f"**No data**: {section.why_empty}.", ""]
            continue
        md += RENDERERS[section.key](section.data, charts) + [""]
    return "\n".join(md)


def errors(d: dict, charts: Charts) -> list[str]:
    this, last = d["this"], d["last"]
    labels = [day_label(x.start) for x in this]
    png = charts.bars("error_trend.png", "Errors per day: this week and the same day a week earlier", labels,
                      {"this week": [x.value for x in this], "last week": [x.value for x in last]}, "errors")
    change = "n/a (no day of last week has data)" if d["change"] is None else f"{d['change'] * 100:+.0f}%"
    out = [f"![Error trend]({png})", "",
           f"**{count(d['total'])} errors** in the period.  Week over week, over the {d['comparable_days']} days "
           f"with data in both weeks: {count(d['this_comparable'])} against {count(d['last_comparable'])} "
           f"({change}).", "",
           "| Day | This week | Last week |", "|---|---:|---:|"]
    out += [f"| {day_label(a.start)} | {count(a.value)} | {count(b.value)} |" for a, b in zip(this, last, strict=True)]
    return out


def error_types(d: dict, charts: Charts) -> list[str]:
    top = d["top"]
    total = sum(v for _, v in top) or 1
    png = charts.barh("error_types.png", "Errors by exception type", [k for k, _ in top], [v for _, v in top], "errors")
    out = [f"![Error types]({png})", "", "| Exception | Errors | Share | Sources |", "|---|---:|---:|---|"]
    for exception, value in top:
        sources = ", ".join(f"{s} {v:,.0f}" for e, s, v in d["rows"] if e == exception)
        out.append(f"| `{exception}` | {value:,.0f} | {value / total * 100:.0f}% | {sources} |")
    return out


def endpoints(d: dict, charts: Charts) -> list[str]:
    rows = d["rows"]
    names = [r["target"].name for r in rows]
    fig_series = {"average": [(r["avg"] or 0) * 1000 for r in rows], "P95": [(r["p95"] or 0) * 1000 for r in rows],
                  "target": [r["target"].target_ms for r in rows]}
    png = charts.bars("endpoints.png", "GET latency against the target table (ms)", names, fig_series, "ms")
    out = [f"![Endpoints]({png})", "",
           "Pass: the average is under the target (the guide's table is of averages).  P95 over the target means "
           f"fewer than {pct(spec.SLO_LATENCY_OBJECTIVE, 0)} of requests are within it: the latency SLO is missed.", "",
           "| Endpoint | GET requests | Average | P95 | Target | Within target | Grade | Average | P95 |",
           "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        t = r["target"]
        avg_ok = "n/a" if r["avg"] is None else ("pass" if r["avg"] * 1000 < t.target_ms else "**FAIL**")
        p95_ok = "n/a" if r["p95"] is None else ("within" if r["p95"] * 1000 <= t.target_ms else "**over target**")
        out.append(f"| {t.name} | {count(r['requests'])} | {ms(r['avg'])} | {ms(r['p95'])} | < {t.target_ms} ms | "
                   f"{pct(r['within'])} | {r['grade'] or 'n/a'} | {avg_ok} | {p95_ok} |")
    return out


def slowest_views(d: dict, charts: Charts) -> list[str]:
    views = d["views"]
    png = charts.barh("slowest_views.png", "Slowest views by P95 (ms)", [v["view"] for v in views],
                      [v["p95"] * 1000 for v in views], "ms", line=spec.SLOW_TRANSACTION_P95_SECONDS * 1000)
    out = [f"![Slowest views]({png})", "", "| View | P95 | Average | Requests |", "|---|---:|---:|---:|"]
    out += [f"| `{v['view']}` | {ms(v['p95'])} | {ms(v['avg'])} | {count(v['requests'])} |" for v in views]
    return out


def slow_queries(d: dict, charts: Charts) -> list[str]:
    days = d["days"]
    png = charts.bars("slow_queries.png", f"Queries over {num(spec.DB_SLOW_QUERY_SECONDS * 1000)} ms per day",
                      [day_label(x.start) for x in days], {"slow queries": [x.value for x in days]}, "queries")
    out = [f"![Slow queries]({png})", "",
           f"**{count(d['total'])} slow queries** of {count(d['queries'])} in the period; P95 query time "
           f"{ms(d['p95'])}.", "", "| Day | Slow queries |", "|---|---:|"]
    out += [f"| {day_label(x.start)} | {count(x.value)} |" for x in days]
    if d["db_time_by_view"]:
        out += ["", "Database time per request, by view (average):", "", "| View | DB time per request |", "|---|---:|"]
        out += [f"| `{v}` | {ms(s)} |" for v, s in d["db_time_by_view"]]
    return out


def cache(d: dict, charts: Charts) -> list[str]:
    days = d["days"]
    png = charts.bars("cache_hit_ratio.png", "App cache hit ratio per day", [day_label(x.start) for x in days],
                      {"hit ratio": [x.value for x in days]}, "hits / reads", line=d["floor"],
                      line_label=f"alert floor {pct(d['floor'], 0)}")
    out = [f"![Cache hit ratio]({png})", "",
           f"**{pct(d['ratio'])}** of {count(d['reads'])} cache reads were hits (CacheHitRatioCollapse below "
           f"{pct(d['floor'], 0)}).", "", "| Day | Hit ratio |", "|---|---:|"]
    out += [f"| {day_label(x.start)} | {pct(x.value)} |" for x in days]
    return out


def slo(d: dict, charts: Charts) -> list[str]:
    rows = d["rows"]
    period_rows = [r for r in rows if r["over"] == "review period"]
    png = charts.barh("slo_budget.png", "Error budget left over the review period",
                      [r["sli"] for r in period_rows], [(r["left"] or 0) * 100 for r in period_rows], "% of budget left",
                      line=0)
    since = "" if d["data_since"] is None else f" (data since {when(d['data_since'])})"
    out = [f"![SLO budget]({png})", "",
           f"Budget = the share of bad events the objective allows; spent = the bad share over that.  The "
           f"{spec.SLO_PERIOD} SLO period counts what Prometheus holds{since}.", "",
           "| SLI | Over | Objective | Bad | Total | Bad share | Budget spent | Budget left |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        left = "n/a" if r["left"] is None else (pct(r["left"], 0) if r["left"] >= 0 else f"**{pct(r['left'], 0)}**")
        out.append(f"| {r['sli']} | {r['over']} | {pct(r['objective'])} | {count(r['bad'])} | {count(r['total'])} | "
                   f"{pct(r['ratio'], 3)} | {pct(r['spent'], 0)} | {left} |")
    return out


def alerts(d: dict, charts: Charts) -> list[str]:
    fired = d["fired"]
    out = []
    if fired:
        by_name: dict[str, float] = {}
        for r in fired:
            by_name[r["alertname"]] = by_name.get(r["alertname"], 0) + r["firing_s"] / 3600
        png = charts.barh("alerts.png", "Hours firing, by alert", list(by_name), list(by_name.values()), "hours")
        out += [f"![Alerts]({png})", ""]
    out += [f"**{len(fired)} alert series fired** in the period.", "",
            "| Alert | Labels | Severity | First seen | Last seen | Times fired | Firing for |",
            "|---|---|---|---|---|---:|---:|"]
    for r in fired:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(r["labels"].items()))
        out.append(f"| {r['alertname']} | {labels} | {r['severity']} | {when(r['first'])} | {when(r['last'])} | "
                   f"{r['episodes']} | {duration(r['firing_s'])} |")
    for r in d["heartbeat"]:
        out += ["", f"The heartbeat ({r['alertname']}, severity none) fired from {when(r['first'])} to "
                    f"{when(r['last'])}, as it always should."]
    return out


RENDERERS = {"errors": errors, "error_types": error_types, "endpoints": endpoints, "slowest_views": slowest_views,
             "slow_queries": slow_queries, "cache": cache, "slo": slo, "alerts": alerts}
