"""What a rule sees: the resources of one revision, the config, and the base revision if any."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from rules.core.config import Config
from rules.core.model import Resource

if TYPE_CHECKING:
    from rules.core.targets import RenderFailure
    from rules.mesh.index import MeshIndex


@dataclass(eq=False)
class Context:
    resources: list[Resource]
    config: Config = field(default_factory=Config)
    base_source: Context | Callable[[], Context] | None = None
    """The base revision's context, or what loads it on first use (`base`)."""
    render_failures: list[RenderFailure] = field(default_factory=list)
    """Targets the render stage failed to build (the `render-failed` rule reports them)."""

    @cached_property
    def base(self) -> Context | None:
        """The same analysis at the base revision; None when there is nothing to compare with.
        Loaded on first use: a diff whose rules all reuse the base's analysis never reads it."""
        source = self.base_source
        return source() if callable(source) else source

    @cached_property
    def _by_kind(self) -> dict[str, list[Resource]]:
        groups: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            groups[resource.kind].append(resource)
        return groups

    def of_kind(self, *kinds: str) -> Iterable[Resource]:
        """Resources of the given kinds, in file order per kind."""
        for kind in kinds:
            yield from self._by_kind.get(kind, ())

    @cached_property
    def index(self) -> MeshIndex:
        """Cross-resource lookups, built on first use (single-resource rules never pay for it)."""
        from rules.mesh.index import MeshIndex

        return MeshIndex(self.resources, self.config)
