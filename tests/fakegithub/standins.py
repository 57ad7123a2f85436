"""Stand-ins for `bot.jobs` and `bot.metrics` until the job-queue branch lands.

Installed only when those modules do not exist, so the real ones win as soon as they are merged.
They carry exactly the names the review handler is coded against, nothing more.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass, field
from typing import Any


def install() -> None:
    if importlib.util.find_spec("bot.jobs") is None:
        jobs = types.ModuleType("bot.jobs")

        class RetryableError(Exception):
            def __init__(self, message: str, retry_after: float | None = None):
                super().__init__(message)
                self.retry_after = retry_after

        @dataclass
        class Job:
            payload: dict[str, Any]
            attempts: int = 1

        @dataclass
        class JobContext:
            settings: Any
            github: Any
            session_factory: Any
            job: Job
            log: Any = field(default=None)

        jobs.RetryableError = RetryableError
        jobs.Job = Job
        jobs.JobContext = JobContext
        jobs.HANDLERS = {}
        sys.modules["bot.jobs"] = jobs
    if importlib.util.find_spec("bot.metrics") is None:
        from prometheus_client import CollectorRegistry, Counter

        metrics = types.ModuleType("bot.metrics")
        registry = CollectorRegistry()
        metrics.GITHUB_REQUESTS = Counter("footgun_github_requests", "GitHub API calls",
                                          ["method", "status"], registry=registry)
        metrics.FINDINGS = Counter("footgun_findings", "Findings reported", ["rule"],
                                   registry=registry)
        sys.modules["bot.metrics"] = metrics
