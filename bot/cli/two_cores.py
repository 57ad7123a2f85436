"""Use the second core for a local analysis (parsing a cold cache), and compare two revisions.

Parsing is pure CPU work on data that pickles well, so a forked child can take half of it.
Nothing depends on the child succeeding: a parse it did not store is a cache miss. On one core,
or where fork is missing, everything runs here. The head of a diff is not analysed beside its
base: it reuses the base's analysis (`rules.core.reuse`), so it comes after it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.config import Config
    from rules.core.engine import Report
    from rules.core.loader import ParseCache, SourceFile
    from rules.core.targets import Revision


def compare(
    head_files: Revision,
    base_files: Revision,
    config: Config,
    cache: ParseCache,
    keep_base: bool,
) -> Report:
    """Analyse head against base (as the render stage made them). The base's analysis comes
    from the findings cache when a previous run stored it (`keep_base`); the head's reuses it
    wherever a change cannot have altered it (`rules.core.reuse`)."""
    from rules.core.engine import analyse

    if not keep_base:
        return analyse(head_files, base_files, config, cache=cache)
    from bot.cli.parse_cache import FindingsCache, analysis_key

    findings_cache = FindingsCache()
    key = analysis_key(base_files.plain, config, _rendered_key(base_files))
    known = findings_cache.get(key)
    report = analyse(head_files, base_files, config, cache=cache, known=known)
    if known is None and report.known is not None:
        findings_cache.put(key, report.known)
    return report


def _rendered_key(revision: Revision) -> str:
    """What the rendered part of a revision depends on: the content key of every build (its
    inputs and the tool), each failure and skipped target, and which folders are rendered (a
    GitOps source on one is not a plain folder)."""
    state = (revision.failures, revision.skipped, revision.notes, sorted(revision.rendered_folders))
    parts = [*revision.build_keys, repr(state)]
    return "\0".join(parts)


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
