"""JSON logs: context on every line, and no secret in any line, whoever logs it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from tests.test_jobs import FakeHandler
from tests.webhooks import PRIVATE_KEY, SECRET, deliver, payload

pytestmark = pytest.mark.anyio
TOKEN = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def log_output():
    """Route every log record through the production JSON formatter into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    logs.configure("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_every_line_carries_delivery_repository_and_pr(log_output):
    log = logging.getLogger("bot.test")
    with logs.bind(delivery="d-1", repository="o/r"):
        with logs.bind(pr="o/r#2", job=5):
            log.info("reviewing %s", "head")
        log.warning("outside the job")
    log.info("no context")
    first, second, third = lines(log_output)
    assert (
        first["message"],
        first["delivery"],
        first["repository"],
        first["pr"],
        first["job"],
        first["level"],
    ) == ("reviewing head", "d-1", "o/r", "o/r#2", 5, "info")
    assert (second["delivery"], second["pr"]) == ("d-1", None)
    assert (third["delivery"], third["repository"]) == (None, None)


async def test_no_secret_reaches_a_log_line(log_output, make_settings, serve):
    settings = make_settings(workers=1)
    leaked = []

    class Leaky(FakeHandler):
        async def run(self, ctx):
            ctx.log.info("token %s for %s", TOKEN, ctx.job.payload["repository"])
            ctx.log.info("headers %s", {"Authorization": f"Bearer {JWT}"})
            ctx.log.debug("the secret is %s", ctx.settings.webhook_secret.get_secret_value())
            leaked.append(ctx.job.id)
            raise RuntimeError(
                f"GitHub refused key {ctx.settings.private_key.get_secret_value()} token {TOKEN}"
            )

    async with serve(settings, handlers={"review": Leaky()}) as (_app, client):
        await deliver(client, "pull_request", payload("pull_request.opened"), delivery="d-secret")
        await deliver(client, "pull_request", payload("pull_request.opened"), secret="wrong")
        import asyncio

        async with asyncio.timeout(10):
            while not leaked or "failed for good" not in log_output.getvalue():
                await asyncio.sleep(0.02)
    output = log_output.getvalue()
    assert "job 1 failed" in output and "GitHub refused key [redacted] token [redacted]" in output
    job_lines = [line for line in lines(log_output) if line.get("job") == 1]
    assert job_lines and all(
        line["delivery"] == "d-secret" and line["pr"] == "Codertocat/Hello-World#2"
        for line in job_lines
    )
    for secret in (SECRET, TOKEN, JWT, *PRIVATE_KEY.splitlines()):
        assert secret not in output, f"{secret[:12]}... reached the log"


def test_a_terminal_gets_readable_lines_with_context_and_no_secrets():
    import io
    import logging

    from bot import logs

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    logs.register_secret("s3cr3t-webhook-value")
    logs.configure("INFO", stream=stream, log_format="auto")
    with logs.bind(delivery="d-1", repository="acme/mesh", pr=7):
        logging.getLogger("bot.test").warning("signature used s3cr3t-webhook-value")
    line = stream.getvalue().strip()
    assert "WARNING bot.test: signature used [redacted]" in line
    assert line.endswith("[delivery=d-1 repository=acme/mesh pr=7]")
    assert not line.startswith("{")


def test_a_pipe_gets_json_lines():
    import io
    import json
    import logging

    from bot import logs

    stream = io.StringIO()
    logs.configure("INFO", stream=stream, log_format="auto")
    logging.getLogger("bot.test").info("hello")
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "hello"
