"""grafanalib sources of the Studio dashboards.  `grafana/generate.py` renders them to JSON.

Every threshold or target number comes from ``app/thresholds.py``; nothing here writes one down.
"""
