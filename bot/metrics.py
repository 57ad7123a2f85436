"""Prometheus metrics on a registry of our own (no process-global default collectors mixed in)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter(
    "footgun_webhook_deliveries",
    "Webhook deliveries received, by event and outcome (queued, recorded, ignored, duplicate, rejected).",
    ["event", "outcome"],
    registry=REGISTRY,
)
WEBHOOK_SECONDS = Histogram(
    "footgun_webhook_ack_seconds",
    "Time from receiving a delivery to answering GitHub.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "footgun_jobs_queued",
    "Jobs waiting to run, by kind (sampled when /metrics is scraped).",
    ["kind"],
    registry=REGISTRY,
)
JOBS = Counter(
    "footgun_jobs",
    "Job attempts finished, by kind and result (done, retry, failed, skipped).",
    ["kind", "result"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "footgun_job_latency_seconds",
    "Time from enqueueing a job to its final state (done, failed, skipped).",
    ["kind"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
GITHUB_REQUESTS = Counter(
    "footgun_github_requests",
    "GitHub API calls, by HTTP method and status (the status code, or 'error' when no answer came).",
    ["method", "status"],
    registry=REGISTRY,
)
FINDINGS = Counter(
    "footgun_findings",
    "Findings reported on pull requests, by rule.",
    ["rule"],
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
