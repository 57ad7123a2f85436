"""Reuse the base revision's problems where a change cannot have altered them.

A warm `footgun diff` should cost what the change costs, not what the repository costs. Rules
are whole-revision generators, so the engine reuses their results by a contract each rule may
sign, and checks at run time what it can:

- Every resource has a *state* (`state_of`): a digest of everything a rule can read of it (API
  version, kind, name, namespace and scope, target and site, file, the text of its document,
  its place in the document). Resources of one state look the same to every rule. Where a
  document starts is left out: no rule reads positions (the engine resolves them for the head's
  resources), so lines added above a resource change nothing it is judged on.
- A rule may declare `READS`: the *facts* its problems may depend on beyond the resource a
  problem is about. A fact is a kind (every resource of that kind, all of it) or a derived fact
  named in `DERIVED` (the scopes that hold Istio configuration). A rule without `READS` is run
  in full: that is the default, and right for rules that compare with the base revision.
- The contract: a problem about resource S depends only on S, the facts in `READS` and the
  config, and the rule yields it whenever S is among the resources it is given. So when every
  fact in `READS` is the same at head as at base, the base's problems about an unchanged S are
  the head's, and the rule needs to run only over the resources that changed, with what makes
  its facts whole beside them (`Reuse.restricted`).
- A rule that reports only what changed between base and head (a weakening, an upgrade) may
  declare `COMPARES`: the facts it compares. When they are the same at both, it finds nothing,
  and the base revision is not even loaded.
- A rule's `KINDS` lists every kind its problems can be about. When no resource of those kinds
  changed, and no fact it reads, the base's problems are the head's and the rule does not run.
- Run-time guards: a problem about a resource the rule was not given (it reached past its
  contract), or of a kind not in `KINDS`, makes the engine run that rule in full. Tests compare
  incremental and full analyses of many changes (`tests/test_reuse.py`).

Why not by namespace: in Istio a Service or ServiceEntry is exported to every namespace by
default, hosts match across namespaces by wildcard, and root-namespace policies reach every
workload, so what a change can affect does not follow namespaces; it follows what rules read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rules.core.context import Context
from rules.core.model import Finding, Problem, Resource
from rules.mesh.index import holds_istio_config

ISTIO_SCOPES = "@istio-scopes"
"""The scopes holding Istio configuration (`rules.mesh.index.holds_istio_config`): the mesh
index takes a namespace without a Namespace object to be in the mesh when it holds some."""

NAMESPACES = "@namespaces"
"""The namespaces of every resource (`Resource.namespace`, None included): what a rule that
names the repository's namespaces reads."""

KeptProblem = tuple[bytes, Any, str, tuple[Any, ...], Any, Any]
"""A base problem as reuse keeps it: (state of its resource, severity, message, key path,
identity, fix)."""


def _istio_scope_members(resources: Iterable[Resource]) -> list[Resource]:
    """One Istio resource per scope holding Istio configuration: enough for the index to know
    every such scope."""
    first: dict[str, Resource] = {}
    for resource in resources:
        if holds_istio_config(resource):
            first.setdefault(resource.scope or "", resource)
    return list(first.values())


def _istio_scope_digest(resources: Iterable[Resource], states: dict[Resource, bytes]) -> bytes:
    scopes = sorted({r.scope or "" for r in resources if holds_istio_config(r)})
    return hashlib.blake2b("\0".join(scopes).encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Derived:
    """A fact computed from resources of many kinds: what makes it whole in a restricted run
    (`members`), and its digest (`digest`)."""

    members: Callable[[Iterable[Resource]], list[Resource]]
    digest: Callable[[Iterable[Resource], dict[Resource, bytes]], bytes]


def _namespace_members(resources: Iterable[Resource]) -> list[Resource]:
    """One resource per namespace the repository determines (None for the rest)."""
    first: dict[str | None, Resource] = {}
    for resource in resources:
        first.setdefault(resource.namespace, resource)
    return list(first.values())


def _namespace_digest(resources: Iterable[Resource], states: dict[Resource, bytes]) -> bytes:
    namespaces = sorted({"" if r.namespace is None else "=" + r.namespace for r in resources})
    return hashlib.blake2b("\0".join(namespaces).encode(), digest_size=16).digest()


DERIVED: dict[str, Derived] = {
    ISTIO_SCOPES: Derived(_istio_scope_members, _istio_scope_digest),
    NAMESPACES: Derived(_namespace_members, _namespace_digest),
}


def state_of(resource: Resource) -> bytes:
    """A digest of everything a rule can read of `resource` (see the module docstring).

    A document's body is parsed from its text alone, so the text stands for the body; where
    there is no text (a file that does not parse, a resource made by the engine) the body is
    digested itself.
    """
    document = resource.document
    text = document.text if document is not None else ""
    parts = (
        resource.api_version,
        resource.kind,
        resource.name,
        resource.namespace,
        resource.scope,
        resource.target,
        resource.site,
        resource.path,
        resource.prefix,
        None if document is None else document.path,
    )
    # `repr`, not marshal or pickle: their bytes depend on which equal strings are one object
    # (interned, shared between fields), so a fresh parse and a cached one would differ.
    digest = hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16)
    digest.update(b"\0")
    digest.update((text or repr(resource.body)).encode("utf-8", "surrogatepass"))
    return digest.digest()


def fact_digest(name: str, context: Context, states: dict[Resource, bytes]) -> bytes:
    """The digest of fact `name` in a revision: its resources' states, or a derived fact's."""
    derived = DERIVED.get(name)
    if derived is not None:
        return derived.digest(context.resources, states)
    return hashlib.blake2b(
        b"".join(sorted(states[r] for r in context.of_kind(name))), digest_size=16
    ).digest()


def reads(rule: Any) -> frozenset[str] | None:
    """The facts a rule declares it reads, or None: a rule that must always run in full."""
    declared = getattr(rule, "READS", None)
    return frozenset(declared) if declared is not None else None


def compares(rule: Any) -> frozenset[str] | None:
    """The facts a rule compares between base and head (`COMPARES`), or None."""
    declared = getattr(rule, "COMPARES", None)
    return frozenset(declared) if declared is not None else None


@dataclass(slots=True)
class Known:
    """What the analysis of a base revision leaves for reuse by the next one."""

    findings: list[Finding]
    """Every base finding (what telling new from old needs)."""
    states: set[bytes] = field(default_factory=set)
    """The state of every base resource."""
    facts: dict[str, bytes] = field(default_factory=dict)
    """The digest of every fact a rule reads, at base."""
    problems: dict[str, list[KeptProblem]] = field(default_factory=dict)
    """The problems of each rule that declares `READS`, by rule ID."""


class Remembering:
    """Collects, during a base run, what `Known` needs."""

    def __init__(self, context: Context, rules: Iterable[Any]) -> None:
        self.states = {r: state_of(r) for r in context.resources}
        self.problems: dict[str, list[KeptProblem]] = {}
        names = set().union(*(reads(rule) or () for rule in rules))
        names.update(*(compares(rule) or () for rule in rules))
        self.facts = {name: fact_digest(name, context, self.states) for name in names}

    def keep(self, rule: Any, problems: list[Problem]) -> None:
        if reads(rule) is None:
            return
        kept = []
        about = frozenset(rule.KINDS)
        for problem in problems:
            state = self.states.get(problem.resource)
            if state is None or problem.resource.kind not in about:
                return  # about no resource of the revision, or of a kind not in KINDS: run it
            kept.append(
                (
                    state,
                    problem.severity,
                    problem.message,
                    tuple(problem.path),
                    problem.identity,
                    problem.fix,
                )
            )
        self.problems[rule.ID] = kept

    def known(self, findings: list[Finding]) -> Known:
        return Known(findings, set(self.states.values()), self.facts, self.problems)


class Reuse:
    """Runs rules over a head revision, reusing the base's problems where the contract allows."""

    def __init__(self, context: Context, known: Known) -> None:
        self.context = context
        self.known = known
        self.states = {r: state_of(r) for r in context.resources}
        self.unchanged: dict[bytes, list[Resource]] = {}
        self.changed: list[Resource] = []
        for resource, state in self.states.items():
            if state in known.states:
                self.unchanged.setdefault(state, []).append(resource)
            else:
                self.changed.append(resource)
        self.changed_kinds = {r.kind for r in self.changed}
        self._facts: dict[str, bytes] = {}
        self.served: list[str] = []
        """The rules whose problems were reused (the others ran in full), for tests and logs."""
        self._contexts: dict[frozenset[str], tuple[Context, set[Resource]]] = {}

    def problems(self, rule: Any, options: dict[str, Any]) -> list[Problem] | None:
        """The rule's problems at head, or None when they cannot be reused (run it in full)."""
        compared = compares(rule)
        if compared is not None and not self._changed(compared):
            self.served.append(rule.ID)
            return []  # the same at base and head: nothing can have changed for the worse
        facts = reads(rule)
        kept = self.known.problems.get(rule.ID)
        if facts is None or kept is None or self._changed(facts):
            return None
        about = frozenset(rule.KINDS)
        if self.changed_kinds.isdisjoint(about):
            # Nothing a problem can be about changed, nor anything the rule reads.
            fresh: list[Problem] = []
            given: set[Resource] = set()
        else:
            restricted, given = self.restricted(facts)
            fresh = list(rule.check(restricted, options))
            if any(p.resource not in given or p.resource.kind not in about for p in fresh):
                return None
        for state, severity, message, path, identity, fix in kept:
            for resource in self.unchanged.get(state, ()):
                if resource not in given:
                    fresh.append(Problem(resource, path, message, identity, fix, severity))
        self.served.append(rule.ID)
        return fresh

    def _changed(self, facts: frozenset[str]) -> bool:
        """Whether any of `facts` differs between base and head (or was not kept at base)."""
        known = self.known.facts
        return any(name not in known or self.fact(name) != known[name] for name in facts)

    def fact(self, name: str) -> bytes:
        digest = self._facts.get(name)
        if digest is None:
            digest = self._facts[name] = fact_digest(name, self.context, self.states)
        return digest

    def restricted(self, facts: frozenset[str]) -> tuple[Context, set[Resource]]:
        """The changed resources with every resource that makes `facts` whole, in the
        revision's order, as a context of their own (rules of one `READS` share it, and its
        mesh index)."""
        found = self._contexts.get(facts)
        if found is None:
            given = set(self.changed)
            for name in facts:
                derived = DERIVED.get(name)
                if derived is not None:
                    given.update(derived.members(self.context.resources))
                else:
                    given.update(self.context.of_kind(name))
            resources = [r for r in self.context.resources if r in given]
            context = Context(
                resources,
                self.context.config,
                base_source=self.context.base_source,
                render_failures=self.context.render_failures,
            )
            found = self._contexts[facts] = (context, given)
        return found
