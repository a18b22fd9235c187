"""Operations: metrics, structured logs, health and diagnostics of a running service, and
operator tooling (doctor, reports, log analysis, support triage, the runbook knowledge base)."""
