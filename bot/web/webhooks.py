"""`POST /webhooks`: verify, store the delivery and its jobs in one transaction, answer 202.

GitHub waits 10 s at most and does not retry by itself, so nothing slow happens here: the work
is a job. The order matters: size limit and signature first (an unsigned request stores nothing),
then headers and JSON (a signed but malformed delivery is recorded as rejected), then the event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import orjson
from githubkit.webhooks import verify
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from bot import logs
from bot.db import Delivery, dialect_insert, utcnow
from bot.metrics import DELIVERIES, WEBHOOK_SECONDS
from bot.settings import registration_hint
from bot.web import events

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB and drops larger ones itself
BODY_BUDGET_BYTES = 4 * MAX_BODY_BYTES
"""Webhook bodies held in memory at once, all requests together (`BodyBudget`)."""
BODY_SECONDS = 10.0
"""GitHub gives a delivery 10 s in all; a body still arriving after that is not GitHub's."""
HEADER_MAX_CHARS = 64  # GitHub's delivery ids are 36-character GUIDs; the columns hold 64


class TooLarge(Exception):
    pass


class _Rejected(Exception):
    """A signed delivery whose payload lacks what its event promises: recorded, answered 400."""


class _Answered(Exception):
    """Leave the delivery transaction without committing it, with this answer."""

    def __init__(self, status: int, outcome: str, note: str) -> None:
        super().__init__(note)
        self.status, self.outcome, self.note = status, outcome, note


async def receive(request: Request) -> JSONResponse:
    started = time.perf_counter()
    try:
        return await _receive(request)
    except (DBAPIError, SQLAlchemyTimeout, OSError) as exc:
        if isinstance(exc, IntegrityError):
            raise
        # A full disk, a read-only volume, a database down: nothing was stored. 503, so that
        # GitHub lists the delivery as failed and it can be redelivered once /readyz is ok.
        log.error(
            "webhook refused with 503: the database cannot store it: %s: %s",
            exc.__class__.__name__,
            " ".join(str(getattr(exc, "orig", None) or exc).split())[:300],
        )
        return _answer(
            503,
            request.headers.get("x-github-event"),
            "unavailable",
            "the database cannot store deliveries now: nothing was kept; redeliver this one "
            "from the App's Recent Deliveries once /readyz is ok",
        )
    finally:
        WEBHOOK_SECONDS.observe(time.perf_counter() - started)


async def _receive(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    settings = runtime.settings
    event = request.headers.get("x-github-event")
    if not settings.has_app_credentials:
        log.warning("webhook refused with 503: %s", registration_hint(settings))
        return _answer(503, None, "unavailable", "the GitHub App is not configured on this server")
    try:
        body = await _read_body(request, request.app.state.body_budget)
    except TooLarge:
        return _answer(413, None, "too_large", f"payload over {MAX_BODY_BYTES} bytes")
    except ClientDisconnect:
        return _answer(400, None, "disconnected", "the client went away")
    except TimeoutError:
        log.warning("webhook refused: the body did not arrive within %.0f s", BODY_SECONDS)
        response = _answer(
            408, None, "too_slow", f"the body did not arrive within {BODY_SECONDS:.0f} s"
        )
        response.headers["connection"] = "close"  # uvicorn closes it: the rest is never read
        return response
    signature = request.headers.get("x-hub-signature-256", "")
    if not signature.startswith("sha256=") or not verify(
        settings.webhook_secret.get_secret_value(), body, signature
    ):
        log.warning("webhook refused: %s X-Hub-Signature-256", "wrong" if signature else "missing")
        return _answer(401, None, "bad_signature", "missing or wrong X-Hub-Signature-256")

    delivery = request.headers.get("x-github-delivery")
    with logs.bind(delivery=delivery):
        if event == "ping":
            return _answer(200, event, "pong", "pong")
        if not event or not delivery:
            missing = "X-GitHub-Event" if not event else "X-GitHub-Delivery"
            return await _reject(runtime, delivery, event, f"missing {missing} header")
        if len(delivery) > HEADER_MAX_CHARS or len(event) > HEADER_MAX_CHARS:
            return await _reject(
                runtime,
                None,
                None,
                f"X-GitHub-Delivery or X-GitHub-Event over {HEADER_MAX_CHARS} characters",
            )
        if event not in events.ROUTES:
            return _answer(200, event, "unhandled", f"event {event!r} is not handled")
        try:
            payload = orjson.loads(
                body
            )  # a PR payload is 10-30 kB: 2.5 times faster than json.loads
        except orjson.JSONDecodeError as exc:
            return await _reject(runtime, delivery, event, f"body is not JSON: {exc}")
        if not isinstance(payload, dict):
            return await _reject(runtime, delivery, event, "body is not a JSON object")
        with logs.bind(**events.log_context(payload)):
            return await _store(runtime, delivery, event, payload)


class BodyBudget:
    """Bytes of webhook bodies this process may hold at once, shared by every request.

    A body is buffered whole before its signature can be checked, so a stranger who sends
    25 MB bodies one byte short would otherwise pin 25 MB a connection for as long as they like
    (40 connections held about 1 GB). A request reserves what it declares before reading (or
    what it has read, without a Content-Length), waits while the budget is spent, and gives it
    back when answered; with the read deadline, memory is bounded and so is the wait.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0
        self._freed = asyncio.Condition()

    async def reserve(self, size: int) -> None:
        size = min(size, self.limit)
        async with self._freed:
            await self._freed.wait_for(lambda: self.reserved + size <= self.limit)
            self.reserved += size

    async def release(self, size: int) -> None:
        async with self._freed:
            self.reserved -= min(size, self.limit)
            self._freed.notify_all()


async def _read_body(request: Request, budget: BodyBudget) -> bytes:
    """The body, refused past MAX_BODY_BYTES, within BODY_BUDGET_BYTES for all requests at once
    and before BODY_SECONDS (raises TimeoutError); never more than declared."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge
    reserved = int(declared) if declared.isdigit() else 0
    try:
        async with asyncio.timeout(BODY_SECONDS):
            await budget.reserve(reserved)
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES or (declared.isdigit() and size > reserved):
                    raise TooLarge
                if size > reserved:  # no Content-Length: reserve as it comes
                    await budget.reserve(size - reserved)
                    reserved = size
                chunks.append(chunk)
            return b"".join(chunks)
    finally:
        await asyncio.shield(budget.release(reserved))


async def _store(runtime: Any, delivery: str, event: str, payload: dict[str, Any]) -> JSONResponse:
    action = payload.get("action")
    try:
        outcome = await runtime.database.run(_store_delivery, delivery, event, payload)
    except _Answered as answered:
        return _answer(answered.status, event, answered.outcome, answered.note)
    except _Rejected as rejected:
        return await _reject(runtime, delivery, event, str(rejected), action=action)
    except IntegrityError:
        if await runtime.database.run(_seen, delivery):
            return _answer(200, event, "duplicate", "delivery already received")
        raise
    if outcome.jobs:
        runtime.wakeup.notify()
    log.info(
        "delivery %s %s.%s: %s%s",
        delivery,
        event,
        action,
        outcome.outcome,
        f" ({outcome.note})" if outcome.note else "",
    )
    return _answer(202, event, outcome.outcome, outcome.note, jobs=outcome.jobs)


def _store_delivery(
    session: Session, delivery: str, event: str, payload: dict[str, Any]
) -> events.Outcome:
    """The delivery and what it means, in one transaction; raising rolls all of it back.

    The delivery row goes in last, `ON CONFLICT DO NOTHING`: a redelivery inserts nothing, and
    what its handler wrote is rolled back with it. One statement instead of a look-up first.
    """
    try:
        outcome = events.ROUTES[event](session, payload, delivery)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if _seen(session, delivery):
            raise _Answered(200, "duplicate", "delivery already received") from None
        raise _Rejected(f"unexpected {event} payload: {exc.__class__.__name__}: {exc}") from None
    if outcome is None:
        raise _Answered(200, "unhandled", f"{event}.{payload.get('action')} is not handled")
    connection = session.connection()
    values = _delivery_values(delivery, event, payload, outcome.outcome, outcome.note)
    if connection.execute(_insert_delivery(connection.dialect.name), values).first() is None:
        raise _Answered(200, "duplicate", "delivery already received")
    return outcome


@functools.cache
def _insert_delivery(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT (delivery_id) DO NOTHING RETURNING id`, built once per backend."""
    table = Delivery.__table__
    return (
        dialect_insert(dialect)(table)
        .on_conflict_do_nothing(index_elements=["delivery_id"])
        .returning(table.c.id)
    )


async def _reject(
    runtime: Any, delivery: str | None, event: str | None, reason: str, action: str | None = None
) -> JSONResponse:
    """400, and a record of it: a signed delivery we could not read is worth investigating."""
    log.warning("delivery %s rejected: %s", delivery, reason)

    def record(session: Session) -> bool:
        if delivery and _seen(session, delivery):
            return False
        action_ = str(action)[:HEADER_MAX_CHARS] if action else None
        session.add(
            Delivery(
                delivery_id=delivery,
                event=event,
                action=action_,
                received_at=utcnow(),
                outcome="rejected",
                note=reason[:1000],
            )
        )
        return True

    try:
        recorded = await runtime.database.run(record)
    except IntegrityError:
        recorded = False
    if not recorded:
        return _answer(200, event, "duplicate", "delivery already received")
    return _answer(400, event, "rejected", reason)


def _delivery_values(
    delivery: str, event: str, payload: dict[str, Any], outcome: str, note: str | None
) -> dict[str, Any]:
    return {
        "delivery_id": delivery,
        "event": event,
        "action": str(payload.get("action") or "")[:HEADER_MAX_CHARS] or None,
        "installation_id": events.installation_id_of(payload),
        "repository": events.repository_name(payload),
        "received_at": utcnow(),
        "outcome": outcome,
        "note": note,
    }


_SEEN = select(Delivery.__table__.c.id).where(
    Delivery.__table__.c.delivery_id == bindparam("delivery")
)


def _seen(session: Session, delivery: str) -> bool:
    return session.connection().execute(_SEEN, {"delivery": delivery}).first() is not None


def _answer(
    status: int, event: str | None, outcome: str, note: str | None, **extra: Any
) -> JSONResponse:
    DELIVERIES.labels(event or "unknown", outcome).inc()
    body: dict[str, Any] = {"outcome": outcome}
    if note:
        body["note"] = note
    body.update(extra)
    return JSONResponse(body, status_code=status)
