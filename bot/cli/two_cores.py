"""Use the second core for a local analysis: parsing a cold cache.

Parsing is pure CPU work on data that pickles well, so a forked child can take half of it.
Nothing depends on the child succeeding: a parse it did not store is a cache miss. On one core,
or where fork is missing, everything runs here. (A diff's head is not analysed beside its base:
it reuses the base's analysis, so it comes after it; see `bot.cli.comparison`.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.loader import ParseCache, SourceFile


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
