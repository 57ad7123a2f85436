"""Compare two revisions for `footgun diff`: the base's analysis from the cache, the head's
reusing it (`rules.core.reuse`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.core.config import Config
    from rules.core.engine import Report
    from rules.core.loader import ParseCache
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
