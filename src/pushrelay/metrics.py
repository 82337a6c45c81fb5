"""Prometheus metrics: one registry per running relay, so tests can run several side by side."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "pushrelay_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "pushrelay_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pushes = Counter(
            "pushrelay_pushes",
            "Push outcomes by app, provider, outcome and reason",
            ["app", "provider", "outcome", "reason"],
            registry=r,
        )
        self.push_latency = Histogram(
            "pushrelay_push_seconds",
            "Time from submission to the provider's answer, retries included",
            ["app", "provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_attempts = Counter(
            "pushrelay_provider_attempts", "Requests made to providers", ["app", "provider"], registry=r
        )
        self.queue_depth = Gauge(
            "pushrelay_lane_waiting", "Pushes waiting for a delivery slot", ["app", "provider"], registry=r
        )
        self.in_flight = Gauge(
            "pushrelay_lane_in_flight", "Pushes being sent to the provider", ["app", "provider"], registry=r
        )
        self.shed = Counter(
            "pushrelay_lane_shed", "Pushes refused because a lane was full", ["app", "provider"], registry=r
        )
        self.breaker_open = Gauge(
            "pushrelay_lane_breaker_open",
            "1 while a lane's circuit breaker is open",
            ["app", "provider"],
            registry=r,
        )
        self.short_circuits = Counter(
            "pushrelay_dead_token_short_circuits",
            "Pushes answered from token hygiene without calling the provider",
            ["app", "platform"],
            registry=r,
        )
        self.tokens_invalidated = Counter(
            "pushrelay_tokens_invalidated",
            "Device tokens marked invalid",
            ["app", "platform", "reason"],
            registry=r,
        )
        self.refusals = Counter(
            "pushrelay_refusals", "Pushes refused before delivery", ["protocol", "reason"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
