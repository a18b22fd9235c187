"""Telemetry of a running service: Prometheus metrics, structured logs, the instrumented
embedder and stores, the background sampler of slow readings, and memory readings."""
