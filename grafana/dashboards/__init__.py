"""grafanalib sources of the Studio dashboards, each beside the JSON it renders to (python -m grafana.generate).

Every threshold or target number comes from the spec (monitoring_spec); nothing here writes one down.
"""
