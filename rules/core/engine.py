"""Run the rules over a head revision (and a base revision) and produce the report.

The engine is the only place that knows how a `Problem` becomes a `Finding`: it stamps the rule
ID and severity, resolves positions, computes fingerprints and edits, and marks each finding
`new` and `waived`.

Identity of findings across revisions (`mark_new`). A fingerprint is rule + kind +
namespace/name + stable key path, plus a *site* where the repository deploys the same resource
more than once: the target for rendered resources (`overlays/prod`), the folder for plain files
whose Kind/namespace/name appears in more than one folder. So a fault added in `prod/` is never
the same finding as one in `dev/`. Each finding also carries `key`, its fingerprint without the
site. A head finding is old when:

1. a base finding has the same fingerprint; else
2. a base finding left unpaired by step 1 has the same key and points at the same file (the
   base of two overlays, one of them new: the existing one keeps its finding); else
3. a base finding left unpaired has the same key (a renamed overlay or folder).

Pairing is one to one, so a renamed folder pairs with its old self, while a copy added beside
the original has nothing left to pair with and is new. A head finding paired in steps 2 or 3
takes its base counterpart's fingerprint: comments and waivers keyed by fingerprint stay with
the finding across a rename, and every push of a pull request gets the same fingerprints.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

import rules as registry
from rules.core import gitops
from rules.core.config import Config
from rules.core.context import Context
from rules.core.loader import ISTIO_GROUPS, ParseCache, Placement, SourceFile, load
from rules.core.model import Edit, Finding, Problem, Resource, Skipped, fingerprint, stable_path
from rules.core.reuse import Known, Remembering, Reuse
from rules.core.targets import RenderFailure, Revision
from rules.core.waivers import ConfigFileWaiver, Waiver

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
_GITOPS_GROUPS = (gitops.ARGO_GROUP, gitops.FLUX_KUSTOMIZE_GROUP)
_GITOPS_KINDS = frozenset({"Application", "ApplicationSet", "Kustomization"})
Input = Iterable[SourceFile] | Revision
"""What a revision is given as: plain files, or what the render stage made of them."""


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What a reader should know about the run (nothing Istio analysed, targets not built)."""
    known: Known | None = None
    """The base's analysis as reuse keeps it (for a cache to store): None without a base."""

    @property
    def base_findings(self) -> list[Finding]:
        """Findings at base, by fingerprint (positions not resolved): what a change fixed."""
        return self.known.findings if self.known is not None else []

    @property
    def counts(self) -> dict[str, int]:
        reported = [f for f in self.findings if not f.waived]
        return {
            "error": sum(f.severity == "error" for f in reported),
            "warning": sum(f.severity == "warning" for f in reported),
            "new": sum(f.new for f in reported),
        }

    def failing(self, new_only: bool) -> list[Finding]:
        """Unwaived error findings (only the new ones when judging a change)."""
        return [
            f
            for f in self.findings
            if f.severity == "error" and not f.waived and (f.new or not new_only)
        ]


def analyse(
    head: Input,
    base: Input | None = None,
    config: Config | None = None,
    *,
    cache: ParseCache | None = None,
    waivers: Sequence[Waiver] = (),
    today: dt.date | None = None,
    known: Known | None = None,
) -> Report:
    """Analyse `head`; with `base`, findings that exist at base are not new (see `mark_new`).

    The base is analysed first, and what it found is reused for the head wherever a change
    cannot have altered it (`rules.core.reuse`). `known`, when given, is that analysis of the
    base made elsewhere (a cache): the rules are then not run on base.
    """
    config = config or Config()
    base_context = None
    if base is not None:
        base_input = base
        base_context = functools.cache(lambda: context_of(base_input, config, cache)[0])
    head_context, skipped, notes = context_of(head, config, cache, base_context)
    if known is None and base_context is not None:
        known = remember(base_context())
    findings = run_rules(head_context, known=known)
    if known is not None:
        mark_new(findings, known.findings)
    all_waivers = [*waivers, *(ConfigFileWaiver(w) for w in config.waive)]
    today = today or dt.date.today()
    for finding in findings:
        for waiver in all_waivers:
            if waiver.covers(finding, today):
                finding.waived, finding.waiver = True, waiver
                break
    notes = [*notes, *_nothing_analysed(head_context, head)]
    return Report(findings, skipped, notes, known)


def context_of(
    revision: Input,
    config: Config,
    cache: ParseCache | None = None,
    base: Context | Callable[[], Context] | None = None,
) -> tuple[Context, list[Skipped], list[str]]:
    """The rules' view of one revision: plain files loaded, rendered resources added, sites set."""
    plain: Iterable[SourceFile]
    rendered: list[Resource] = []
    failures: list[RenderFailure] = []
    extra_skipped: list[Skipped] = []
    notes: list[str] = []
    folders: set[str] = set()
    if isinstance(revision, Revision):
        plain, rendered, failures = revision.plain, revision.rendered, revision.failures
        extra_skipped, notes = list(revision.skipped), list(revision.notes)
        folders = revision.rendered_folders
    else:
        plain = revision
    wanted = list(_wanted(plain, config))
    resources, skipped = load(wanted, Placement(config), cache)
    resources, deployed = _deploy_plain_folders(resources, rendered, wanted, folders, config)
    assign_sites(resources)
    for resource in rendered:
        resource.site = resource.target
    context = Context(
        [*resources, *deployed, *rendered], config, base_source=base, render_failures=failures
    )
    return context, [*skipped, *extra_skipped], notes


def _deploy_plain_folders(
    resources: list[Resource],
    rendered: list[Resource],
    files: list[SourceFile],
    folders: set[str],
    config: Config,
) -> tuple[list[Resource], list[Resource]]:
    """The plain resources that no Argo CD Application or Flux Kustomization deploys, and
    those one does, placed in its target and namespace (`rules.core.gitops`): a plain folder
    is applied as it is, so this happens here, whether or not the render stage ran."""
    sources = gitops.folder_sources(
        r for r in (*resources, *rendered) if r.kind in _GITOPS_KINDS and r.group in _GITOPS_GROUPS
    )
    if not sources:
        return resources, []
    folders = folders | gitops.rendered_folders(f.path for f in files)
    return gitops.place_deployed(
        resources, sources, {f.path: f.data for f in files}, folders, config
    )


def assign_sites(resources: list[Resource]) -> None:
    """Plain resources whose Kind/namespace/name appears in more than one folder (one per
    cluster or environment) get their folder as site, so their findings are told apart."""
    first_folder: dict[tuple[str, str | None, str], str] = {}
    repeated: set[tuple[str, str | None, str]] = set()
    for resource in resources:
        key = (resource.kind, resource.namespace, resource.name)
        folder = resource.path.rpartition("/")[0]
        if first_folder.setdefault(key, folder) != folder:
            repeated.add(key)
    if not repeated:
        return
    for resource in resources:
        if (
            resource.target is None
            and (resource.kind, resource.namespace, resource.name) in repeated
        ):
            resource.site = resource.path.rpartition("/")[0] + "/"


def mark_new(findings: list[Finding], base_findings: list[Finding]) -> None:
    """Mark each head finding new or not, pairing it with base findings one to one (see the
    module docstring); a head finding paired by key takes the base fingerprint."""
    pool: dict[str, Finding] = {f.fingerprint: f for f in base_findings}
    rest: list[Finding] = []
    for finding in findings:
        if pool.pop(finding.fingerprint, None) is not None:
            finding.new = False
        else:
            rest.append(finding)
    if not rest or not pool:
        for finding in rest:
            finding.new = True
        return
    by_key: dict[str, list[Finding]] = {}
    for old in pool.values():
        by_key.setdefault(old.key or old.fingerprint, []).append(old)
    for same_file in (True, False):
        unpaired = []
        for finding in rest:
            candidates = by_key.get(finding.key or finding.fingerprint, [])
            match = None
            if candidates:
                match = next(
                    (old for old in candidates if not same_file or old.path == finding.path), None
                )
            if match is None:
                unpaired.append(finding)
                continue
            candidates.remove(match)
            finding.new, finding.fingerprint = False, match.fingerprint
        rest = unpaired
    for finding in rest:
        finding.new = True


def _nothing_analysed(context: Context, revision: Input) -> list[str]:
    """A note when the revision holds no Istio or Gateway API resource, saying what it held."""
    kinds: dict[str, int] = {}
    for resource in context.resources:
        if resource.group in ISTIO_GROUPS or resource.group == GATEWAY_API_GROUP:
            return []
        kinds[resource.kind] = kinds.get(resource.kind, 0) + 1
    if context.render_failures:
        return []
    targets = revision.targets if isinstance(revision, Revision) else []
    seen = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) or "none"
    built = f", {len(targets)} built target{'s' if len(targets) != 1 else ''}" if targets else ""
    return [
        "no Istio or Gateway API resource was analysed; the Kubernetes resources read were: "
        f"{seen}{built}"
    ]


def run_rules(context: Context, locate: bool = True, known: Known | None = None) -> list[Finding]:
    """Every enabled rule over one revision, in a stable order (path, line, column, rule).

    Resolving positions means composing the document again, the dearest step after parsing;
    `locate=False` skips it (line and column 0, no edit) where only fingerprints matter. With
    `known` (the base's analysis), rules reuse the base's problems where they may.
    """
    return _run_rules(context, locate, Reuse(context, known) if known is not None else None)


def remember(context: Context) -> Known:
    """Analyse a base revision (fingerprints only) and keep what the head's analysis reuses."""
    remembering = Remembering(context, registry.RULES.values())
    findings = _run_rules(context, False, remembering=remembering)
    return remembering.known(findings)


def _run_rules(
    context: Context,
    locate: bool,
    reuse: Reuse | None = None,
    remembering: Remembering | None = None,
) -> list[Finding]:
    placed: list[tuple[tuple[Any, ...], Finding]] = []
    order = {resource: index for index, resource in enumerate(context.resources)}
    for rule in registry.RULES.values():
        settings = context.config.rule(rule.ID)
        if not settings.enabled:
            continue
        options = {**rule.OPTIONS, **settings.options}
        problems = reuse.problems(rule, options) if reuse is not None else None
        if problems is None:
            problems = list(rule.check(context, options))
        if remembering is not None:
            remembering.keep(rule, problems)
        counts: dict[Resource, int] = {}
        for problem in problems:
            severity = settings.severity or problem.severity or rule.SEVERITY
            finding = to_finding(rule.ID, severity, problem, locate)
            nth = counts[problem.resource] = counts.get(problem.resource, -1) + 1
            where = order.get(problem.resource, -1)
            placed.append(
                ((finding.path, finding.line, finding.column, rule.ID, where, nth), finding)
            )
    # Ties at one place go by the resource's order in the revision, then the rule's order for
    # it: the same whether the rule ran in full or reuse gave part of its problems. Then one
    # finding per fingerprint (two copies of a resource in one folder share one): the first.
    placed.sort(key=lambda item: item[0])
    seen: set[str] = set()
    findings = []
    for _, finding in placed:
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            findings.append(finding)
    return findings


def to_finding(rule_id: str, severity: str, problem: Problem, locate: bool = True) -> Finding:
    resource = problem.resource
    key = problem.identity or stable_path(resource.body, problem.path)
    path, line, column = resource.locate(problem.path) if locate else (resource.path, 0, 0)
    plain = fingerprint(rule_id, resource.ref, key)
    return Finding(
        rule=rule_id,
        severity=severity,  # type: ignore[arg-type]
        message=problem.message,
        path=path,
        line=line,
        column=column,
        resource=resource.ref,
        fingerprint=plain
        if resource.site is None
        else fingerprint(rule_id, resource.ref, key, resource.site),
        target=resource.target,
        key=plain,
        edit=_edit(problem) if problem.fix and locate and resource.origin is None else None,
    )


def _wanted(files: Iterable[SourceFile], config: Config) -> Iterator[SourceFile]:
    return (f for f in files if config.wants(f.path))


def _edit(problem: Problem) -> Edit | None:
    """Turn a rule's fix request into line edits, only where the source makes that safe."""
    resource, document = problem.resource, problem.resource.document
    if document is None or problem.fix is None:
        return None
    path = resource.prefix + tuple(problem.path)
    key_node, value_node, depth = document.node_at(path)
    if depth != len(path) or key_node is None:
        return None
    lines = document.text.splitlines()
    first = key_node.start_mark.line
    if problem.fix[0] == "set" and isinstance(value_node, yaml.ScalarNode):
        start, end = value_node.start_mark, value_node.end_mark
        if start.line != end.line or first != start.line:
            return None
        text = lines[start.line]
        new = text[: start.column] + str(problem.fix[1]) + text[end.column :]
        line = document.start_line + start.line + 1
        return Edit(line, line, new)
    if problem.fix[0] == "delete":
        column = key_node.start_mark.column
        lead = lines[first][:column]
        if lead.strip() not in ("", "-"):
            return None
        end = value_node.end_mark
        ends_before_token = end.line >= len(lines) or not lines[end.line][: end.column].strip()
        last = end.line - 1 if ends_before_token else end.line
        while last > first and not lines[last].strip():
            last -= 1
        offset = document.start_line + 1
        if lead.strip() == "":
            return Edit(first + offset, last + offset, "")
        # The key opened a list item (`- fault:`): its next sibling key takes over the dash.
        following = last + 1
        if (
            following >= len(lines)
            or len(lines[following]) - len(lines[following].lstrip()) != column
        ):
            return None
        return Edit(first + offset, following + offset, lead + lines[following].lstrip())
    return None
