"""Run the rules over a head revision (and a base revision) and produce the report.

The engine is the only place that knows how a `Problem` becomes a `Finding`: it stamps the rule
ID and severity, resolves positions, computes fingerprints and edits, and marks each finding
`new` (no finding with the same fingerprint at base) and `waived`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import yaml

import rules as registry
from rules.core.config import Config
from rules.core.context import Context
from rules.core.loader import ParseCache, SourceFile, load
from rules.core.model import (
    Edit,
    Finding,
    Problem,
    Resource,
    Skipped,
    fingerprint,
    stable_path,
)
from rules.core.waivers import ConfigFileWaiver, Waiver

Rendered = tuple[Sequence[Resource], Sequence[Skipped]]
"""What a render stage made of a revision: resources, and what it skipped (with the reason)."""


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    skipped: list[Skipped] = field(default_factory=list)
    base_findings: list[Finding] = field(default_factory=list)
    """Findings at base, by fingerprint (positions not resolved): what a change fixed."""

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
    head: Iterable[SourceFile],
    base: Iterable[SourceFile] | None = None,
    config: Config | None = None,
    *,
    cache: ParseCache | None = None,
    waivers: Sequence[Waiver] = (),
    today: dt.date | None = None,
    base_findings: Iterable[Finding] | None = None,
    rendered: Rendered | None = None,
    base_rendered: Rendered | None = None,
) -> Report:
    """Analyse `head`; with `base`, findings whose fingerprint exists at base are not new.

    `base_findings`, when given, are the findings at base computed elsewhere (another process,
    a cache): the rules are then not run on base. It is iterated only after the head analysis.
    `rendered` / `base_rendered`: what a render stage made of the revision's charts (resources,
    and what it skipped), analysed with the plain files.
    """
    config = config or Config()
    base_context = None
    if base is not None:
        base_resources, _ = load(_wanted(base, config), config.default_namespace, cache)
        if base_rendered is not None:
            base_resources = [*base_resources, *base_rendered[0]]
        base_context = Context(base_resources, config)
    head_resources, skipped = load(_wanted(head, config), config.default_namespace, cache)
    if rendered is not None:
        head_resources = [*head_resources, *rendered[0]]
        skipped = [*skipped, *rendered[1]]
    head_context = Context(head_resources, config, base=base_context)

    findings = run_rules(head_context)
    if base_findings is not None:
        base_findings = list(base_findings)
    else:
        base_findings = run_rules(base_context, locate=False) if base_context is not None else []
    known = {f.fingerprint for f in base_findings}
    all_waivers = [*waivers, *(ConfigFileWaiver(w) for w in config.waive)]
    today = today or dt.date.today()
    for finding in findings:
        finding.new = base is None or finding.fingerprint not in known
        for waiver in all_waivers:
            if waiver.covers(finding, today):
                finding.waived, finding.waiver = True, waiver
                break
    return Report(findings, skipped, base_findings)


def run_rules(context: Context, locate: bool = True) -> list[Finding]:
    """Every enabled rule over one revision, in a stable order (path, line, column, rule).

    Resolving positions means composing the document again, the dearest step after parsing;
    `locate=False` skips it (line and column 0, no edit) where only fingerprints matter.
    """
    findings: list[Finding] = []
    seen: set[str] = set()
    for rule in registry.RULES.values():
        settings = context.config.rule(rule.ID)
        if not settings.enabled:
            continue
        options = {**rule.OPTIONS, **settings.options}
        for problem in rule.check(context, options):
            severity = settings.severity or problem.severity or rule.SEVERITY
            finding = to_finding(rule.ID, severity, problem, locate)
            if finding.fingerprint not in seen:
                seen.add(finding.fingerprint)
                findings.append(finding)
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule))
    return findings


def to_finding(rule_id: str, severity: str, problem: Problem, locate: bool = True) -> Finding:
    resource = problem.resource
    key = problem.identity or stable_path(resource.body, problem.path)
    if resource.target is not None:  # the same resource deployed twice gives two findings
        key = (*key, "@target", resource.target)
    path, line, column = resource.locate(problem.path) if locate else (resource.path, 0, 0)
    editable = resource.document is not None and resource.document.editable
    return Finding(
        rule=rule_id,
        severity=severity,  # type: ignore[arg-type]
        message=problem.message,
        path=path,
        line=line,
        column=column,
        resource=resource.ref,
        fingerprint=fingerprint(rule_id, resource.ref, key),
        edit=_edit(problem) if problem.fix and locate and editable else None,
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
