"""Grafana dashboards as code (grafanalib sources, generated JSON, provisioning)."""
