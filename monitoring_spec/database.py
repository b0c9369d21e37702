"""What the database may do for a request of the target table (docs/database-indexes.md, tests/test_query_plans.py).

A request of the target table reads a page (at most API_MAX_PAGE_SIZE rows) or one object: every query it runs
must reach its rows through an index once a table is large.  Below SEQ_SCAN_MAX_TABLE_ROWS a table is a few
hundred 8 kB pages at most and a sequential scan is what the planner rightly prefers.  A query that needs at
least SEQ_SCAN_WHOLE_TABLE_FRACTION of a table (the pagination COUNT of an unfiltered list) may scan it, unless
a LIMIT sits above the scan: then the page needs few rows and the scan is a missing index.
"""
from __future__ import annotations

__all__ = ["SEQ_SCAN_MAX_TABLE_ROWS", "SEQ_SCAN_WHOLE_TABLE_FRACTION"]

SEQ_SCAN_MAX_TABLE_ROWS = 1_000
SEQ_SCAN_WHOLE_TABLE_FRACTION = 0.5
