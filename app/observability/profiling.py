"""Django Silk's policy (development only: settings/development.py installs Silk; docs/performance.md).

Imported by the settings (SILKY_* callables), so nothing here imports Django at module level.

* every request is recorded lightly -- path, status, time, SQL queries (no plans) -- except the probes and
  /metrics (polled every few seconds: they would drown everything else) and static files;
* a request with ``?silk`` in its query string is profiled in detail: cProfile and EXPLAIN plans;
* /silk/ is for active superusers only.
"""
from __future__ import annotations

NOT_RECORDED = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.ico")
PROFILE_PARAMETER = "silk"


def intercept(request) -> bool:
    """SILKY_INTERCEPT_FUNC: record this request?"""
    return not request.path_info.startswith(NOT_RECORDED)


def profile(request) -> bool:
    """SILKY_PYTHON_PROFILER_FUNC: run the Python profiler for this request?"""
    return PROFILE_PARAMETER in request.GET


def is_superuser(user) -> bool:
    """SILKY_PERMISSIONS: who may open /silk/."""
    return bool(user is not None and user.is_active and user.is_superuser)


def install() -> None:
    """Silk's EXPLAIN, for detailed requests only and outside the app's query tally (idempotent).

    Silk runs EXPLAIN for every query it records: a second query per query on every recorded
    request, which the app's own figures (X-Query-Count, studio_request_queries) would count as the
    app's.  Lightly recorded requests get no plan; a ?silk request gets them, run with the
    connection's execute_wrappers set aside so that only the app's own queries are counted.
    """
    from silk import sql as silk_sql

    if getattr(silk_sql._explain_query, "_studio", False):
        return
    original = silk_sql._explain_query

    def explain_when_profiling(connection, q, params):
        from silk.collector import DataCollector

        if getattr(DataCollector().local, "pythonprofiler", None) is None:  # recorded lightly
            return None
        wrappers, connection.execute_wrappers = connection.execute_wrappers, []
        try:
            return original(connection, q, params)
        finally:
            connection.execute_wrappers = wrappers

    explain_when_profiling._studio = True
    # Monkeypatch: Silk has no setting to turn its per-query EXPLAIN off (see the docstring).
    silk_sql._explain_query = explain_when_profiling
