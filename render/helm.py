"""Render Helm charts offline, in a child process, within a time and an output limit.

Engine: helm-python-sdk, the Helm v4 SDK built as a shared library (the optional extra `helm`;
no registry we can install from ships a `helm` binary). Measured on this project's 2-core
machines (benchmarks/README.md): loading the library costs about 0.15 s once per worker, a
small chart renders in 2-15 ms.

Why a child process (`render/helm_worker.py`): a Go crash inside the library (out of memory in
an endless `range`, a runtime fault) kills the process that loaded it. The worker runs with an
address-space limit; this side gives each render `TIME_LIMIT` seconds and kills a worker that
is late or dead, starting a fresh one for the next render. Every failure becomes a
`RenderFailure` with words a user can act on, never an exception.

What the engine cannot reach: the network (`lookup` returns nothing without a cluster,
`getHostByName` returns "" with Helm's DNS lookups off, which is the SDK's default), the
environment (Helm has no `env` function), and files outside the chart: the chart is sent as an
archive built from the repository's files, so `.Files.Get "../x"` finds nothing.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import importlib.util
import io
import os
import re
import selectors
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from render.helm_worker import read_frame, write_frame

TIME_LIMIT = 10.0
"""Seconds one render may take, the worker's start-up not included."""
MAX_OUTPUT = 16 * 1024 * 1024
"""Bytes of rendered text one render may produce."""
INSTALL_HINT = "Helm support is not installed (pip install 'istio-footgun-bot[helm]')"
_WORKER = Path(__file__).with_name("helm_worker.py")
_START_LIMIT = 30.0
STOPPED = "stopped"
"""A render the chart stopped itself, with `fail` or `required`: it asks for values."""
_ERROR_AT = re.compile(
    r"\((?P<template>[^():\s]+):(?P<line>\d+)(?::(?P<column>\d+))?\)"
    # Go's own template errors (a nil pointer, a bad call) start `[template: ]NAME:LINE:COL`
    r"|^(?:template: )?(?P<template2>[^():\s]+):(?P<line2>\d+):(?P<column2>\d+)"
)
_STARTED_AT = re.compile(r"started at (?P<template>[^():\s]+):(?P<line>\d+)")


def available() -> bool:
    """Whether the Helm SDK is installed (found without loading it)."""
    return importlib.util.find_spec("helm_python") is not None


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """Why a render gave no manifests. `template` (as Helm names it: `chart/templates/x.yaml`),
    `line` and `column` are where Helm says the error is, when it says."""

    kind: str
    message: str
    template: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """Rendered text per template, keyed as Helm names templates: `chart/templates/x.yaml`."""

    manifests: dict[str, str]


def chart_archive(name: str, files: Mapping[str, bytes]) -> bytes:
    """A gzipped tar of the chart's files (paths relative to the chart folder) under `name/`,
    with fixed metadata so the same files always give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            data = files[path]
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def failure_from_error(kind: str, message: str) -> RenderFailure:
    """A Helm error message as a failure: the first `(template:line:col)` names the place, and
    the message keeps what Helm said after it (Helm repeats the place at the front)."""
    text = " ".join(message.split())
    if kind == "render" and "execution error at (" in text:
        kind = STOPPED  # the chart's own `fail` or `required`, not a broken template
    match = _ERROR_AT.search(text)
    if match is None:
        return RenderFailure(kind, _shorten(text))
    template = match["template"] or match["template2"]
    line = match["line"] or match["line2"]
    column = match["column"] or match["column2"]
    said = text[match.end() :].lstrip(": ") or text
    started = _STARTED_AT.search(said)  # an unclosed action: Go names the line it opened on
    if started is not None and started["template"] == template:
        return RenderFailure(kind, _shorten(said), started["template"], int(started["line"]))
    return RenderFailure(
        kind,
        _shorten(said),
        template,
        int(line),
        int(column) if column else None,
    )


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HelmEngine:
    """A lazily started Helm worker, reused across renders and replaced when it fails.

    Use as a context manager, or call `close()`: the worker is a process.
    """

    def __init__(
        self,
        time_limit: float = TIME_LIMIT,
        max_output: int = MAX_OUTPUT,
        memory_mb: int = 4096,
    ) -> None:
        self.time_limit = time_limit
        self.max_output = max_output
        self.memory_mb = memory_mb
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._ready = False
        self.renders = 0
        """How many renders went to a worker (the render cache's misses)."""

    def __enter__(self) -> HelmEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spawn(self) -> None:
        """Start the worker in the background (say, while files are still read and parsed):
        its start-up then overlaps with other work. `render` waits for it to be ready."""
        if self._process is not None or not available():
            return
        # Go's crash report can be long: a file, not a pipe nobody drains, receives it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "FOOTGUN_HELM_MEMORY_MB": str(self.memory_mb),
            "HOME": tempfile.gettempdir(),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        self._ready = False

    def start(self) -> RenderFailure | None:
        """Make sure a worker is up and ready; None when it is, else why it is not."""
        if self._process is not None and self._process.poll() is not None:
            self.close()
        if self._process is not None and self._ready:
            return None
        if not available():
            return RenderFailure("engine", INSTALL_HINT)
        self.spawn()
        hello = self._answer(_START_LIMIT)
        if isinstance(hello, RenderFailure) or not hello.get("ok"):
            self.close()
            if isinstance(hello, RenderFailure):
                return hello
            return RenderFailure("engine", f"the Helm engine did not start: {hello.get('error')}")
        self._ready = True
        return None

    def render(
        self,
        name: str,
        files: Mapping[str, bytes],
        values: dict[str, Any],
        release: str,
        namespace: str,
    ) -> Rendered | RenderFailure:
        """Render the chart made of `files` (paths relative to its folder) with user `values`."""
        failure = self.start()
        if failure is not None:
            return failure
        archive = chart_archive(name or "chart", files)
        request = {
            "archive": base64.b64encode(archive).decode(),
            "values": values,
            "release": release,
            "namespace": namespace,
            "max_output": self.max_output,
        }
        self.renders += 1
        assert self._process is not None and self._process.stdin is not None
        try:
            write_frame(self._process.stdin, request)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            return self._died()
        answer = self._answer(self.time_limit)
        if isinstance(answer, RenderFailure):
            return answer
        if answer.get("ok"):
            manifests = answer.get("manifests")
            if isinstance(manifests, dict):
                return Rendered({str(k): str(v) for k, v in manifests.items()})
            return RenderFailure("engine", "the Helm engine answered without manifests")
        return failure_from_error(str(answer.get("kind")), str(answer.get("error")))

    def _answer(self, limit: float) -> dict[str, Any] | RenderFailure:
        """The worker's next frame within `limit` seconds; a failure (and a dead worker) if not."""
        process = self._process
        assert process is not None and process.stdout is not None
        stream = process.stdout
        deadline = time.monotonic() + limit
        buffer = bytearray()
        need = 4
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while len(buffer) < need:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.close()
                    return RenderFailure(
                        "timeout", f"rendering took longer than {limit:g} s and was stopped"
                    )
                chunk = os.read(stream.fileno(), max(need - len(buffer), 1 << 20))
                if not chunk:
                    return self._died()
                buffer += chunk
                if need == 4 and len(buffer) >= 4:
                    need = 4 + int.from_bytes(buffer[:4], "big")
        try:
            frame = read_frame(io.BytesIO(bytes(buffer[:need])))
        except ValueError as exc:
            self.close()
            return RenderFailure("engine", f"the Helm engine's answer was unreadable: {exc}")
        if frame is None:
            return self._died()
        return frame

    def _died(self) -> RenderFailure:
        """The worker ended mid-render: a Go crash, most often memory exhaustion."""
        process = self._process
        code = process.wait(timeout=5) if process is not None else None
        reason = self._crash_reason()
        self.close()
        detail = f" ({reason})" if reason else ""
        return RenderFailure(
            "crash",
            f"the Helm engine stopped while rendering (exit status {code}){detail}; a template "
            "that loops without end or builds huge output does this",
        )

    def _crash_reason(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError):
            self._stderr.seek(0)
            head = self._stderr.read(4096).decode(errors="replace")
            for line in head.splitlines():
                if line.startswith(("fatal error:", "panic:", "runtime:")):
                    return line.strip()[:200]
        return ""

    def close(self) -> None:
        """Stop the worker (it is started again on the next render)."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
