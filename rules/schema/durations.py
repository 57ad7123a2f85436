"""Durations as the API server's CEL `duration()` reads them: Go's `time.ParseDuration`.

Istio's CRDs check durations with the CEL rule `duration(self) >= duration('1ms')`; cel-go parses
the string with Go's `time.ParseDuration`: an optional sign, then one or more decimal numbers
each with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), or a bare `0`. So `1h30m` and `1.5s`
are durations, `5`, `5sec`, `1d` and `PT5S` are not.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_WHOLE = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")


@lru_cache(maxsize=4096)
def parse(text: str) -> int | None:
    """Nanoseconds, or None when Go would refuse the string."""
    if text in ("0", "+0", "-0"):
        return 0
    if len(text) > 100 or not _WHOLE.fullmatch(text):
        return None
    total = 0.0
    for number, unit in _PART.findall(text):
        total += float(number) * _UNITS[unit]
    return int(-total if text.startswith("-") else total)
