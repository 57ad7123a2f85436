"""The Helm worker: a child process that renders charts with the Helm SDK and nothing else.

The Helm SDK (helm-python-sdk) is Go code in a shared library. A Go `fatal error` (out of
memory, a runtime panic outside a recover) kills the whole process that loaded it, so the
library is never loaded in the analysing process: `render.helm` starts this file as a script
(`python -I render/helm_worker.py`, so it imports neither our packages nor the user's site) and
talks to it over its standard input and output.

Protocol: frames of a 4-byte big-endian length and a JSON object. A request carries the chart
as a gzipped tar archive (base64), the user values, the release name and namespace, and the
output cap; the answer is `{"ok": true, "manifests": {template: text}}` or
`{"ok": false, "kind": ..., "error": ...}`. JSON, not pickle: what comes back was produced
from a pull request's templates, and the parent must never execute it.

Limits the worker sets on itself before loading the library: an address-space limit
(`FOOTGUN_HELM_MEMORY_MB`, 4096 by default, so an endless `range` ends in a Go out-of-memory
crash instead of eating the machine) and an empty working directory. The time limit is the
parent's: it kills the worker when an answer is late.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import struct
import sys
import tempfile
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """One JSON frame, or None at end of input."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_REQUEST_BYTES:
        raise ValueError(f"frame of {size} bytes is over the limit")
    data = stream.read(size)
    if len(data) < size:
        return None
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("a frame must hold a JSON object")
    return value


def write_frame(stream: BinaryIO, value: dict[str, Any]) -> None:
    data = json.dumps(value, separators=(",", ":")).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _limit_memory() -> None:
    megabytes = int(os.environ.get("FOOTGUN_HELM_MEMORY_MB", "4096"))
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def render(helm: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Render one request; every Helm error becomes an answer, never an exception."""
    try:
        archive = base64.b64decode(request["archive"])
        values = request.get("values") or {}
        cap = int(request.get("max_output", 16 * 1024 * 1024))
    except (KeyError, ValueError, TypeError) as exc:
        return {"ok": False, "kind": "request", "error": f"bad request: {exc}"}
    try:
        with helm.Chart.load_archive(archive) as chart:
            manifests = chart.render(
                values=values,
                name=request.get("release") or "release",
                namespace=request.get("namespace") or "default",
                is_install=True,
            )
    except helm.HelmChartLoadError as exc:
        return {"ok": False, "kind": "load", "error": str(exc)}
    except helm.HelmValuesError as exc:
        return {"ok": False, "kind": "values", "error": str(exc)}
    except helm.HelmError as exc:
        return {"ok": False, "kind": "render", "error": str(exc)}
    size = sum(len(text) for text in manifests.values())
    if size > cap:
        return {
            "ok": False,
            "kind": "output",
            "error": f"the chart rendered {size:,} bytes, over the limit of {cap:,}",
        }
    return {"ok": True, "manifests": manifests}


def main() -> int:
    _limit_memory()
    os.chdir(tempfile.mkdtemp(prefix="footgun-helm-"))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        import helm_python as helm
    except Exception as exc:  # the library missing or unloadable: say so once, then stop
        write_frame(stdout, {"ok": False, "kind": "engine", "error": str(exc).splitlines()[0]})
        return 1
    helm.disable_logging()
    write_frame(stdout, {"ok": True, "ready": helm.helm_sdk_version()})
    while True:
        try:
            request = read_frame(stdin)
        except ValueError as exc:
            write_frame(stdout, {"ok": False, "kind": "request", "error": str(exc)})
            return 1
        if request is None:
            return 0
        write_frame(stdout, render(helm, request))


if __name__ == "__main__":
    sys.exit(main())
