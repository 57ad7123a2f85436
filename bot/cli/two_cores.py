"""Use the second core for a local analysis: parsing a cold cache, and the base of a diff.

Both are pure CPU work on data that pickles well, so a forked child can take half of it. Nothing
depends on the child succeeding: a parse it did not store is a cache miss, and base findings it
did not send are computed here. On one core, or where fork is missing, everything runs here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.config import Config
    from rules.core.engine import Report
    from rules.core.loader import ParseCache, SourceFile
    from rules.core.model import Finding
    from rules.core.targets import Revision


def compare(
    head_files: Revision,
    base_files: Revision,
    config: Config,
    cache: ParseCache,
    keep_base: bool,
) -> Report:
    """Analyse head against base (as the render stage made them). The base's findings come
    from the findings cache when a previous run stored them (`keep_base`), else from a child
    process working in parallel."""
    from rules.core.engine import analyse

    if not keep_base:
        with base_findings_in_parallel(base_files, config, cache) as base_findings:
            return analyse(head_files, base_files, config, cache=cache, base_findings=base_findings)
    from bot.cli.parse_cache import FindingsCache, analysis_key

    findings_cache = FindingsCache()
    key = analysis_key(base_files.plain, config, _rendered_key(base_files))
    known = findings_cache.get(key)
    if known is not None:
        return analyse(head_files, base_files, config, cache=cache, base_findings=known)
    with base_findings_in_parallel(base_files, config, cache) as base_findings:
        report = analyse(head_files, base_files, config, cache=cache, base_findings=base_findings)
    findings_cache.put(key, report.base_findings)
    return report


def _rendered_key(revision: Revision) -> str:
    """What the rendered part of a revision depends on: the content key of every build (its
    inputs and the tool), each failure and skipped target, and which folders are rendered (a
    GitOps source on one is not a plain folder)."""
    state = (revision.failures, revision.skipped, revision.notes, sorted(revision.rendered_folders))
    parts = [*revision.build_keys, repr(state)]
    return "\0".join(parts)


@contextmanager
def base_findings_in_parallel(
    base_files: Revision, config: Config, cache: ParseCache
) -> Iterator[Iterable[Finding] | None]:
    """The findings at base, computed by a forked child while this process analyses head.

    Both analyses are pure CPU work, so a second core halves the rules' share of a diff. The
    base files are parsed here first, so the child starts with every parse in memory. Where
    fork is missing, on one core, or when the child fails, the engine runs the base here.
    """
    if not hasattr(os, "fork") or _usable_cores() < 2:
        yield None
        return
    import pickle
    import signal

    from rules.core.engine import context_of, run_rules
    from rules.core.loader import load
    from rules.mesh.index import MeshIndex  # noqa: F401 - imported once here, not in both processes

    def compute() -> list[Finding]:
        return run_rules(context_of(base_files, config, cache)[0], locate=False)

    load(base_files.plain, config, cache)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and end without running any of the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(compute(), protocol=pickle.HIGHEST_PROTOCOL))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    source = os.fdopen(read_end, "rb")

    def receive() -> Iterator[Finding]:
        data = source.read()
        source.close()
        _, status = os.waitpid(pid, 0)
        try:
            # our own forked child wrote it: nothing untrusted is unpickled
            findings = pickle.loads(data) if status == 0 else None  # noqa: S301
        except Exception:
            findings = None
        yield from findings if findings is not None else compute()

    try:
        yield receive()
    finally:
        if not source.closed:  # the head analysis failed: stop the child and collect it
            source.close()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def parse_in_parallel(files: list[SourceFile], cache: ParseCache, minimum: int = 32) -> None:
    """Parse the files the cache lacks on two cores: a forked child parses every other one
    into the on-disk cache while this process parses the rest.

    Nothing depends on the child: an entry it did not write is a cache miss, and the loader
    parses that file itself. Only worth a fork for a cold cache (`minimum` files to parse).
    """
    from bot.cli.parse_cache import ParseCache as DiskCache
    from rules.core.loader import cache_key, parse_file

    if not isinstance(cache, DiskCache) or not hasattr(os, "fork") or _usable_cores() < 2:
        return
    todo = list({key: f for f in files if (key := cache_key(f)) and key not in cache}.items())
    if len(todo) < minimum:
        return
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for key, source in todo[::2]:
                cache[key] = parse_file(source.path, source.data, source.size)
            code = 0
        finally:
            os._exit(code)
    try:
        for key, source in todo[1::2]:
            cache[key] = parse_file(source.path, source.data, source.size)
    finally:
        os.waitpid(pid, 0)


def _usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's core count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
