"""Operator diagnostics: ``doctor`` (against a server or a data directory), the performance
report, log analysis, and the views over a deployment's metrics (Prometheus or a scrape)."""
