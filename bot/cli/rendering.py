"""Render a revision's Helm charts for the CLI: once per values set, cached on disk.

The charts come from the files the CLI read (every file of a chart folder, see `sources`); the
values sets from the charts' own `values.yaml`, Argo CD Applications and Flux HelmReleases in the
same files. Renders are kept under `$XDG_CACHE_HOME/footgun/renders/` by the digest of chart and
values (one JSON file each, written atomically), parsed renders in the parse cache, so a run
that changes one values file renders and parses one values set. The Helm worker is spawned as
soon as a chart is seen, so its start-up overlaps with reading and parsing the other files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from render import helm
from render.helm_targets import ChartEngine
from rules.core.loader import SourceFile


class RenderCache(MutableMapping[str, dict[str, Any]]):
    """Renders on disk, one JSON file per key; a missing or unreadable entry is a miss."""

    def __init__(self, root: Path | None = None) -> None:
        from bot.cli.parse_cache import default_root

        self.root = root or default_root() / "renders"

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def __getitem__(self, key: str) -> dict[str, Any]:
        try:
            value = json.loads(self._file(key).read_bytes())
        except (OSError, ValueError):
            raise KeyError(key) from None
        if not isinstance(value, dict):
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        path = self._file(key)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".")
            with os.fdopen(handle, "w") as out:
                json.dump(value, out)
            os.replace(temporary, path)

    def __delitem__(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._file(key).unlink()

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class ChartRenderer:
    """Renders the charts of one or two revisions with one Helm worker."""

    def __init__(self, persistent: bool = True) -> None:
        self.engine = helm.HelmEngine() if helm.available() else None
        self.cache: MutableMapping[str, dict[str, Any]] = RenderCache() if persistent else {}

    def __enter__(self) -> ChartRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.close()

    def warm_up(self, files: list[SourceFile]) -> None:
        """Start the Helm worker now when the files hold a chart."""
        if self.engine is not None and any(_is_chart_file(f.path) for f in files):
            self.engine.spawn()

    @property
    def charts(self) -> ChartEngine:
        """What `render.targets.render_revision` renders charts with."""
        return ChartEngine(self.engine, self.cache)


def chart_folders(files: list[SourceFile]) -> tuple[str, ...]:
    """The folders holding a Chart.yaml, as path prefixes for `str.startswith` (without any
    chart, one prefix no path has)."""
    return tuple({f.path[: -len("Chart.yaml")] for f in files if _is_chart_file(f.path)}) or ("\0",)


def _is_chart_file(path: str) -> bool:
    return path.rpartition("/")[2] == "Chart.yaml"
