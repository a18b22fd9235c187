"""Support: triage through the escalation matrix and the runbook knowledge base."""
