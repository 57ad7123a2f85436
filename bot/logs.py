"""Structured JSON logs: one object a line, with the delivery, repository and PR on every line.

The context comes from contextvars (`bind`), so a worker's or a request's log lines carry it
without threading it through every call. Every line passes through `scrub` last: registered
secret values and anything shaped like a GitHub token, a JWT or a PEM key become `[redacted]`,
whatever logged it (our code, a library, a traceback).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("delivery", "repository", "pr", "job")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "footgun_log_context",
    default={},  # noqa: B039 (never mutated: bind() sets a new dict)
)
_secrets: set[str] = set()

REDACTED = "[redacted]"
SECRET_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|(?i:authorization[\"']?\s*[:=]\s*[\"']?(?:bearer |token |basic )?)[^\s\"',}]+",
    re.DOTALL,
)


def register_secret(value: str | None) -> None:
    """Never print `value` (and its lines, for multi-line keys) in a log line."""
    if not value:
        return
    _secrets.add(value)
    _secrets.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 8)


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return SECRET_SHAPES.sub(REDACTED, text)


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` (delivery, repository, pr, job) to every log line inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    return dict(_context.get())


class JSONFormatter(logging.Formatter):
    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
        "message",
        "asctime",
        "color_message",
    }

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = _context.get()
        line.update({name: current.get(name) for name in CONTEXT_FIELDS})
        line.update(
            {k: v for k, v in vars(record).items() if k not in self._STANDARD and k not in line}
        )
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return json.dumps({k: _clean(v) for k, v in line.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One readable line for a person at a terminal; the same fields and scrubbing as JSON."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        current = _context.get()
        where = " ".join(f"{name}={current[name]}" for name in CONTEXT_FIELDS if current.get(name))
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if where:
            text += f"  [{where}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return scrub(text)


def _clean(value: Any) -> Any:
    """Scrub before JSON encoding: a PEM key's newlines would otherwise be escaped past the match."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(value if isinstance(value, str) else str(value))


def configure(level: str = "INFO", stream: Any = None, log_format: str = "json") -> None:
    """Log lines on stderr for our loggers and the libraries'; chatty clients kept at WARNING.

    `log_format` is `json` (one object a line, for collectors), `text` (for a person), or `auto`:
    text when the stream is a terminal, JSON otherwise.
    """
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter() if log_format == "text" else JSONFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "hishel", "aiosqlite", "asyncio", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
