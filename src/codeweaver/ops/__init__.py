"""Operations: metrics, structured logs, health and diagnostics of a running service."""
