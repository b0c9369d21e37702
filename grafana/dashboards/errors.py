"""Errors and user impact: how many, what kind, from where, who is affected, which views."""

from __future__ import annotations

import monitoring_spec as spec
from grafana import panels as ui
from grafana import queries as pq
from monitoring_spec import contract as metric
from monitoring_spec.recorded import Names


def build():
    t = spec
    rec = Names(t)
    win = pq.alert_window()
    inst = (pq.INSTANCE,)
    app = (pq.INSTANCE, pq.VIEW)
    spike = t.ERROR_SPIKE_MIN_ERRORS
    ratio = t.HIGH_ERROR_RATE_RATIO

    lay = ui.Layout()
    lay.fill(
        [
            ui.stat(
                f"Errors in last {win}",
                [ui.q(rec.errors)],
                decimals=0,
                steps_=ui.above(spike),
                description=(
                    f"All errors (requests, Celery tasks, error logs), exactly counted: {ui.ALERT_NUMBER}. Red at "
                    f"{spike} or more: the ErrorSpike alert."
                ),
            ),
            ui.stat(
                "Errors per minute",
                [ui.q(f"sum(rate({metric.ERRORS}{{{pq.INSTANCE}}}[{win}])) * 60 or vector(0)")],
                decimals=1,
                description=f"Average over the last {win}.",
            ),
            ui.stat(
                "Users affected (last 5 min)",
                [ui.q(f"max({metric.ERROR_USERS}{{{pq.INSTANCE}}})")],
                decimals=0,
                steps_=ui.above(pq.ANY, bad="orange"),
                description=(
                    "Distinct users who hit an error in the last five minutes (studio_error_users_5m, a HyperLogLog estimate)."
                ),
            ),
            ui.stat(
                f"5xx error rate ({win})",
                [ui.q(rec.responses_5xx_ratio)],
                unit="percentunit",
                decimals=2,
                steps_=ui.above(ratio),
                description=(
                    f"5xx share of user responses: {ui.ALERT_NUMBER}. Red above {pq.percent_text(ratio)}: the "
                    "HighErrorRate alert."
                ),
            ),
            ui.stat(
                f"Failed tasks (last {win})",
                [ui.q(f"sum(increase({metric.CELERY_FAILED}{{{pq.INSTANCE}}}[{win}])) or vector(0)")],
                decimals=0,
                steps_=ui.above(pq.ANY, bad="orange"),
                links=[ui.link_to("cache_celery")],
            ),
            ui.stat(
                f"Database errors (last {win})",
                [ui.q(f"sum(increase({metric.DB_ERRORS}{{{pq.INSTANCE}}}[{win}])) or vector(0)")],
                decimals=0,
                steps_=ui.above(pq.ANY, bad="orange"),
                links=[ui.link_to("database")],
            ),
        ],
        h=4,
    )

    lay.row("Error sources and types")
    lay.add(
        ui.timeseries(
            f"Errors by source (per {win})",
            [ui.q(rec.errors_by_source, "{{source}}")],
            stack=True,
            bars=True,
            fill=80,
            min_=0,
            description=(
                "source: request (unhandled exception in a view), task (Celery), log (logger.error and above). "
                f"Stacked, they are ErrorSpike's count: {ui.ALERT_NUMBER}."
            ),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            f"Errors per minute by type (top {pq.TOP_N})",
            [ui.q(f"topk({pq.TOP_N}, {pq.summed('rate', metric.ERRORS, inst, pq.RATE, ('exception',))}) * 60", "{{exception}}")],
            stack=True,
            fill=30,
            min_=0,
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.bargauge(
            "Error type distribution (selected range)",
            [
                ui.q(
                    f"sort_desc(topk({pq.TOP_N}, {pq.summed('increase', metric.ERRORS, inst, pq.RANGE, ('exception',))}))",
                    "{{exception}}",
                    instant=True,
                )
            ],
            color_mode="continuous-YlRd",
            description="Errors per exception type over the dashboard's time range.",
        ),
        w=8,
        h=9,
    )

    lay.row("Trend")
    lay.add(
        ui.timeseries(
            f"Error trend (errors per {win})",
            [
                ui.q(rec.errors, "now", ref="A"),
                ui.q(f"{rec.errors} offset 1d", "1 day earlier", ref="B"),
                ui.q(f"{rec.errors} offset 7d", "1 week earlier", ref="C"),
            ],
            steps_=ui.above(spike),
            threshold_style="dashed",
            min_=0,
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": ".*earlier"},
                    "properties": [{"id": "custom.lineStyle", "value": {"dash": [4, 4], "fill": "dash"}}],
                }
            ],
            description=(
                f"Errors in {win}, {ui.ALERT_NUMBER}. Dashed line: the ErrorSpike threshold ({spike} errors in {win}); "
                f"the same window a day and a week earlier for comparison."
            ),
        ),
        w=12,
        h=9,
    )
    lay.add(
        ui.timeseries(
            "Unhandled Django exceptions by type",
            [ui.q(f"{pq.summed('rate', metric.EXCEPTIONS, inst, pq.RATE, ('type',))} * 60", "{{type}}")],
            stack=True,
            fill=30,
            min_=0,
            description="django_http_exceptions_total_by_type_total, per minute.",
        ),
        w=12,
        h=9,
    )

    lay.row("User impact")
    lay.add(
        ui.timeseries(
            "Users affected by errors (distinct, last 5 min)",
            [ui.q(f"max({metric.ERROR_USERS}{{{pq.INSTANCE}}})", "users")],
            min_=0,
            fill=25,
            steps_=ui.above(pq.ANY, bad="orange"),
        ),
        w=8,
        h=9,
    )
    lay.add(
        ui.timeseries(
            f"5xx share by view (top {pq.TOP_N})",
            [ui.q(f"topk({pq.TOP_N}, {pq.error_ratio(app, pq.RATE, ('view',))} > 0)", "{{view}}")],
            unit="percentunit",
            min_=0,
            steps_=ui.above(ratio),
            threshold_style="dashed",
            description=f"Dashed line: the HighErrorRate threshold ({pq.percent_text(ratio)}).",
        ),
        w=16,
        h=9,
    )

    view_link = {"title": "Latency of this view", "url": ui.dashboard_url("endpoints") + "&var-view=${__value.raw}"}
    lay.add(
        ui.table(
            f"Views with the highest error rates (selected range, top {pq.TOP_N})",
            [
                ui.q(f"topk({pq.TOP_N}, {pq.error_ratio(app, pq.RANGE, ('view',))} > 0)", ref="A", instant=True, table=True),
                ui.q(
                    f"{pq.summed('increase', metric.RESPONSES, (*app, pq.STATUS_5XX), pq.RANGE, ('view',))} > 0",
                    ref="B",
                    instant=True,
                    table=True,
                ),
                ui.q(pq.summed("increase", metric.RESPONSES, app, pq.RANGE, ("view",)), ref="C", instant=True, table=True),
            ],
            transformations=ui.merged_rows(
                {"Value #A": "5xx share", "Value #B": "5xx responses", "Value #C": "Responses", "view": "View"}
            ),
            overrides=[
                ui.column_override("5xx share", unit="percentunit", steps_=ui.above(ratio), cell="color-background"),
                ui.column_override("5xx responses", unit="short"),
                ui.column_override("Responses", unit="short"),
                ui.column_override("View", links=[view_link]),
            ],
            sort_by="5xx share",
            description=(
                "The guide's 'features with highest error rates': views ranked by 5xx "
                "share. Cells turn red above the HighErrorRate threshold."
            ),
        ),
        w=24,
        h=9,
    )

    by_country = pq.summed("increase", metric.ERRORS_BY_COUNTRY, inst, pq.RANGE, ("country",))
    lay.row("Geography")
    lay.add(
        ui.Geomap(
            title="Errors by country (selected range)",
            dataSource=ui.DS,
            targets=[ui.q(f"{by_country} > 0", ref="A", instant=True, table=True)],
            thresholds=ui.steps("green"),
            description=(
                "studio_errors_by_country_total located through Grafana's built-in "
                "countries gazetteer (ISO 3166 alpha-2). 'unknown' is listed beside the "
                "map only."
            ),
        ),
        w=16,
        h=11,
    )
    lay.add(
        ui.bargauge(
            f"Errors by country (top {pq.TOP_N})",
            [ui.q(f"sort_desc(topk({pq.TOP_N}, {by_country}))", "{{country}}", instant=True)],
            color_mode="continuous-YlRd",
            description="Same data as the map, including the 'unknown' bucket.",
        ),
        w=8,
        h=11,
    )

    lay.row("Security events (not errors: what a client causes at will)")
    lay.add(
        ui.stat(
            f"Security events (last {win})",
            [ui.q(f"sum({rec.security_events}) or vector(0)")],
            decimals=0,
            steps_=ui.above(t.SECURITY_EVENTS_TICKET, bad="orange"),
            description=(
                "Requests Django refused as suspicious: forged Host headers, CSRF failures, oversized or malformed "
                f"requests (studio_security_events_total): {ui.ALERT_NUMBER}. Never part of the error count; orange "
                f"from {t.SECURITY_EVENTS_TICKET}, the SuspiciousRequests ticket."
            ),
        ),
        w=6,
        h=8,
    )
    lay.add(
        ui.timeseries(
            f"Security events by kind (per {win})",
            [ui.q(rec.security_events, "{{event}}")],
            steps_=ui.above(t.SECURITY_EVENTS_TICKET, bad="orange"),
            threshold_style="dashed",
            min_=0,
            description="DisallowedHost, csrf, RequestDataTooBig, ...: the django.security logger each came from.",
        ),
        w=9,
        h=8,
    )
    auth_events = "|".join(metric.AUTH_SECURITY_EVENTS)
    lay.add(
        ui.timeseries(
            f"Sign-ins throttled and invalid tokens (per {win})",
            [ui.q(f'sum by (event) ({rec.security_events}{{event=~"{auth_events}"}})', "{{event}}")],
            min_=0,
            description=(
                f"{metric.SIGNIN_THROTTLED_EVENT}: sign-ins refused with a 429 because their client address or "
                "username reached its limit of failed sign-ins (a password-guessing attempt, or a user who forgot); "
                f"{metric.INVALID_TOKEN_EVENT}: requests with an unknown, expired or malformed API token (401). "
                "Part of the security events beside; docs/security.md says how to tune the limits."
            ),
        ),
        w=9,
        h=8,
    )

    return ui.dashboard(
        "errors",
        "Errors and user impact: errors by source (request, task, log) and type, the trend "
        "against the ErrorSpike threshold, users affected, the views with the highest error "
        "rates and where the errors come from.",
        lay,
        [ui.datasource_var(), ui.instance_var(), ui.view_var()],
    )
