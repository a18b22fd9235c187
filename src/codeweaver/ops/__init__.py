"""Operator tooling: health checks (doctor), metrics reading, reports, log analysis,
support triage and the runbook knowledge base."""
