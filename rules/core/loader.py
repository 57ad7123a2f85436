"""Turn manifest files into `Resource`s, or say clearly why a file cannot be read.

Parsing dominates the cost of a run, so the loader parses only what can matter: a file is cut
into documents at `---` lines (the YAML spec forbids a document marker inside a scalar, so the
cut is exact), and a document is parsed only when one of its `kind:` values names a kind some
rule reads, or it looks like istiod Helm values. Parsing uses libyaml through PyYAML's C loader
(see benchmarks/README.md for the figures that chose it). Positions are not computed while
loading: a document is composed again, with marks, only when a finding needs a line number.

Everything the loader refuses becomes a `Skipped` with a reason a user can act on. It never
raises for bad input and never runs unbounded: size, nesting and alias expansion are capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from rules.core.config import Config
from rules.core.document import Document, KeyPath
from rules.core.model import UNNAMED, Resource, Skipped, unknown_scope
from rules.core.placeholders import is_placeholder

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 200_000
MAX_NESTING = 200
"""Deeper documents are refused: no Kubernetes object needs it, and recursive code downstream
(JSON encoding, fingerprints) must stay far from Python's recursion limit."""

ISTIO_GROUPS = frozenset(
    {
        "networking.istio.io",
        "security.istio.io",
        "install.istio.io",
        "telemetry.istio.io",
        "extensions.istio.io",
    }
)
WORKLOAD_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "Pod",
    }
)
KUBERNETES_KINDS = frozenset({"Namespace", "Service", "ConfigMap"}) | WORKLOAD_KINDS
KUBERNETES_GROUPS = frozenset({"", "apps", "batch"})
ISTIO_KINDS = frozenset(
    {
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "ServiceEntry",
        "Sidecar",
        "WorkloadEntry",
        "WorkloadGroup",
        "EnvoyFilter",
        "ProxyConfig",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "RequestAuthentication",
        "IstioOperator",
        "Telemetry",
        "WasmPlugin",
        "TrafficExtension",
    }
)
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_GROUPS = frozenset({GATEWAY_API_GROUP, "gateway.networking.x-k8s.io"})
GATEWAY_API_KINDS = frozenset(
    {
        "GatewayClass",
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
        "TCPRoute",
        "TLSRoute",
        "UDPRoute",
        "ReferenceGrant",
        "BackendTLSPolicy",
        "ListenerSet",
        "XBackend",
        "XBackendTrafficPolicy",
        "XMesh",
    }
)
INSTALLER_KINDS: dict[str, frozenset[str]] = {
    "argoproj.io": frozenset({"Application", "ApplicationSet"}),
    "helm.toolkit.fluxcd.io": frozenset({"HelmRelease"}),
    "kustomize.toolkit.fluxcd.io": frozenset({"Kustomization"}),
    "sailoperator.io": frozenset({"Istio"}),
}
"""What deploys or installs things: Argo CD and Flux (their targets and the istiod values they
carry) and the Sail Operator's `Istio` (mesh config and version)."""
CLUSTER_SCOPED_KINDS = frozenset({"Namespace", "GatewayClass", "XMesh", "Istio"})
"""`Istio` is the Sail Operator's (sailoperator.io/v1, a cluster-scoped CRD): a kustomization
`namespace:` written onto it means nothing, as the API server ignores it."""
HELM_VALUES_KIND = "HelmValues"
"""Pseudo-kind for an istiod Helm values file: a plain mapping with a top-level `meshConfig`."""

_DOC_START = re.compile(r"^---(?=[ \t]|$)", re.M)
_KIND_VALUE = re.compile(r"""^[ \t-]*["']?kind["']?[ \t]*:[ \t]*["']?([A-Za-z]+)""", re.M)
_HELM_VALUES = re.compile(r"^meshConfig[ \t]*:", re.M)
_GO_TEMPLATE = re.compile(
    r"\{\{-?\s*(?:\.|\$|-|if\b|else\b|end\b|range\b|with\b|include\b|template\b|define\b"
    r"|toYaml\b|tpl\b|printf\b|required\b|default\b|quote\b)"
)
FILE_KIND = "File"
"""Pseudo-kind for a manifest file that does not parse (what the rule yaml-invalid reports)."""
_TEMPLATE_MARKER = re.compile(r"\{\{|\{%|%\{")
"""Go/Helm and Jinja (`{{`, `{%`) or Terraform (`%{`) templating: a file to render first.
`${VAR}` alone is not one: Flux and kustomize parse a file before substituting it."""
_API_VERSION_LINE = re.compile(r"""^["']?apiVersion["']?[ \t]*:""", re.M)
_KIND_LINE = re.compile(r"""^["']?kind["']?[ \t]*:""", re.M)
HELM_TEMPLATE = "Helm template: render it first (helm template ...) and check the output"
_WANTED_KINDS = (
    ISTIO_KINDS
    | GATEWAY_API_KINDS
    | KUBERNETES_KINDS
    | {"List"}
    | frozenset().union(*INSTALLER_KINDS.values())
)


class _DuplicateKeyError(yaml.MarkedYAMLError):
    pass


_STR, _INT, _NULL, _BOOL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "null", "bool"))
_MAP, _SEQ, _MERGE = (f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "merge"))
_Built = Any  # a finished value, or (container, node, iterator over its children) to fill in


class _StrictLoader(yaml.CSafeLoader):
    """libyaml's C parser with one strictness PyYAML lacks: duplicate keys are an error.

    Kubernetes rejects them too; silently keeping the last one would analyse a manifest that
    differs from what the user thinks they wrote.

    It is also about twice as fast as PyYAML's own construction, which dominates a cold run:
    plain maps, lists, strings, whole numbers, booleans and nulls are built by one loop with an
    explicit stack (no recursion, whatever the nesting); anything else (merge keys, floats,
    explicit tags) goes through PyYAML's constructors. Scalar tags are memoised, since manifests
    repeat the same keys and values, and path resolvers (which we do not use) are skipped.
    """

    _tags: ClassVar[dict[tuple[str, Any], str]] = {}
    _bools = yaml.constructor.SafeConstructor.bool_values

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise _duplicate(key_node)
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and len(value) < 64:
            key = (value, implicit)
            tag = self._tags.get(key)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
                if len(self._tags) < 50_000:
                    self._tags[key] = tag
            return tag
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def construct_document(self, node: yaml.Node) -> Any:
        memo: dict[int, Any] = {}
        first = self._enter(node, memo)
        if type(first) is not tuple:
            return first
        stack = [first]
        while stack:
            container, parent, children = stack[-1]
            for child in children:
                if type(container) is list:
                    value_node = child
                else:
                    key_node, value_node = child
                    key = (
                        self._scalar(key_node)
                        if key_node.__class__ is yaml.ScalarNode
                        else (self.construct_object(key_node, deep=True))
                    )
                    try:
                        duplicate = key in container
                    except TypeError:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            parent.start_mark,
                            "found unhashable key",
                            key_node.start_mark,
                        ) from None
                    if duplicate:
                        raise _duplicate(key_node)
                if value_node.__class__ is yaml.ScalarNode:
                    value = self._scalar(value_node)
                else:
                    value = memo.get(id(value_node), memo)
                    if value is memo:
                        value = self._enter(value_node, memo)
                if type(value) is tuple:
                    inner = value
                    value = inner[0]
                else:
                    inner = None
                if type(container) is list:
                    container.append(value)
                else:
                    container[key] = value
                if inner is not None:
                    stack.append(inner)
                    break
            else:
                stack.pop()
        return first[0]

    def _enter(self, node: yaml.Node, memo: dict[int, Any]) -> _Built:
        """A scalar's value, or a new empty container to fill (registered first, for aliases)."""
        cls = node.__class__
        if isinstance(node, yaml.ScalarNode) and cls is yaml.ScalarNode:
            return self._scalar(node)
        if cls is yaml.SequenceNode and node.tag == _SEQ:
            container: Any = []
        elif (
            cls is yaml.MappingNode
            and node.tag == _MAP
            and not any(key.tag == _MERGE for key, _ in node.value)
        ):
            container = {}
        else:
            value = self.construct_object(node, deep=True)
            memo[id(node)] = value
            return value
        memo[id(node)] = container
        return (container, node, iter(node.value))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _INT:
            value = node.value
            if value.isascii() and value.isdigit() and (value[0] != "0" or len(value) == 1):
                return int(value)
        elif tag == _NULL:
            return None
        elif tag == _BOOL:
            return self._bools[node.value.lower()]
        return self.construct_object(node, deep=True)


def _duplicate(key_node: yaml.Node) -> _DuplicateKeyError:
    return _DuplicateKeyError(None, None, f"duplicate key '{key_node.value}'", key_node.start_mark)


# Timestamps stay strings: rules compare text, and JSON output must not meet datetime objects.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list[Any]:
    """Every document of `text` (empty ones left out), read as `parse_file` reads a manifest:
    duplicate keys are an error (`yaml.YAMLError`), timestamps stay strings. For the render
    stage, which must see what a build tool sees, not only the manifests that matter here."""
    return [d for d in yaml.load_all(text, Loader=_StrictLoader) if d is not None]


@dataclass(slots=True)
class SourceFile:
    """A file to analyse. `key` identifies its content (a git blob SHA) for the parse cache."""

    path: str
    data: bytes | str
    key: str | None = None
    size: int | None = None
    """The full size in bytes, when `data` was cut short at MAX_FILE_BYTES + 1 to save reading it."""


@dataclass(slots=True)
class ParsedFile:
    """What the loader keeps per file content: documents, or the reason the file was skipped.

    `invalid` is (line, column, problem, placeholders) when the file looks like a manifest,
    holds no template markers and does not parse (`placeholders`: the failing document holds
    `${...}`): the rule yaml-invalid reports it there."""

    documents: list[Document]
    skipped: str | None = None
    invalid: Invalid | None = None


ParseCache = MutableMapping[str, ParsedFile]
Invalid = tuple[int, int, str, bool]


def parse_file(path: str, data: bytes | str, size: int | None = None) -> ParsedFile:
    """Cut a file into documents and parse the ones that can matter."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            size = max(size or 0, len(data))
            return _skip(f"larger than 1 MiB ({size:,} bytes); split it into smaller files")
        if b"\x00" in data[:8192]:
            return _skip("binary file (contains NUL bytes), not YAML")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            return _skip(
                f"not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, column {column}); "
                "save it as UTF-8"
            )
    else:
        text = data
        if len(text) > MAX_FILE_BYTES:
            return _skip(
                f"larger than 1 MiB ({len(text):,} characters); split it into smaller files"
            )
        if "\x00" in text:
            return _skip("binary file (contains NUL bytes), not YAML")
    templated = _GO_TEMPLATE.search(text) is not None
    if templated and _in_templates(path):
        return _skip(HELM_TEMPLATE)

    documents = []
    for start_line, doc_text in _split_documents(text):
        if not _may_matter(doc_text):
            continue
        try:
            body = yaml.load(doc_text, Loader=_StrictLoader)  # noqa: S506 - a safe loader
        except yaml.MarkedYAMLError as exc:
            if templated:
                return _skip(HELM_TEMPLATE)
            parsed = _skip(_describe_yaml_error(exc, doc_text, start_line))
            parsed.invalid = _invalid_manifest(exc, text, doc_text, start_line)
            return parsed
        except yaml.YAMLError as exc:
            return _skip(f"invalid YAML: {str(exc).splitlines()[0]}")
        except RecursionError:
            return _skip(f"nesting too deep near line {start_line + 1}")
        except (ValueError, TypeError, AttributeError, OverflowError):
            # PyYAML's constructors fail this way on an explicit tag with a value it cannot
            # hold, such as `!!int abc` or `!!timestamp soon`.
            return _skip(
                f"invalid YAML: a value in the document at line {start_line + 1} does not match "
                "its explicit tag (such as !!int or !!timestamp)"
            )
        if not isinstance(body, dict):
            continue
        if templated and _GO_TEMPLATE.search(str(body.get("metadata"))):
            return _skip(HELM_TEMPLATE)
        problem = _shape_problem(body, doc_text)
        if problem:
            return _skip(f"{problem} in the document at line {start_line + 1}")
        documents.append(Document(path, doc_text, start_line, body))
    return ParsedFile(documents)


@dataclass(frozen=True, slots=True)
class Placement:
    """How the namespace of a namespace-less resource is decided (DESIGN, "Targets"): the
    target's namespace, else the config's `namespaces:` globs, else its `default_namespace`,
    else unknown, shared by what is applied together (the target, or the file's folder).

    With `override`, the target's namespace is every namespaced resource's, whatever it writes:
    a Flux Kustomization's `targetNamespace` is Kustomize's `namespace:`, which replaces it."""

    config: Config = field(default_factory=Config)
    target: str | None = None
    namespace: str | None = None
    override: bool = False

    def namespace_of(self, path: str, written: Any) -> tuple[str | None, str]:
        """(namespace or None when unknown, scope) of a namespaced resource of file `path`."""
        if self.override and self.namespace:
            return self.namespace, self.namespace
        if isinstance(written, str) and written and not is_placeholder(written):
            return written, written
        if isinstance(written, str) and written:
            # `namespace: ${NAMESPACE}`: set when applied, unknown here; not shared with others
            return None, unknown_scope(f"{self.target or path}\0{written}")
        namespace = self.namespace or self.config.namespace_for(path)
        if namespace is not None:
            return namespace, namespace
        return None, unknown_scope(self.target if self.target is not None else _folder(path))


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def load(
    files: Iterable[SourceFile],
    placement: Placement | Config | None = None,
    cache: ParseCache | None = None,
) -> tuple[list[Resource], list[Skipped]]:
    """Load every file; resources in file order, and the files that were skipped.

    `placement` decides the namespace of namespace-less resources (a `Config` alone: plain files).
    """
    if not isinstance(placement, Placement):
        placement = Placement(placement or Config())
    resources: list[Resource] = []
    skipped: list[Skipped] = []
    for source in files:
        key = cache_key(source) if cache is not None else None
        parsed = cache.get(key) if cache is not None and key else None
        if parsed is None:
            parsed = parse_file(source.path, source.data, source.size)
            if cache is not None and key:
                cache[key] = parsed
        if parsed.skipped:
            skipped.append(Skipped(source.path, parsed.skipped))
            if parsed.invalid is not None:
                resources.append(_invalid_file(source.path, parsed.invalid))
            continue
        for document in parsed.documents:
            resources.extend(_resources(source.path, document, placement))
    return resources, skipped


def _invalid_file(path: str, invalid: Invalid) -> Resource:
    """A file that does not parse, as a resource of kind `File` whose position is the error."""
    line, column, problem, placeholders = invalid
    document = _ErrorDocument(path, "", line - 1, {}, error_column=column)
    body = {"problem": problem, "line": line, "column": column, "placeholders": placeholders}
    return Resource("", FILE_KIND, path, None, body, path, document)


@dataclass(slots=True, eq=False)
class _ErrorDocument(Document):
    """A document that does not parse: every position is the error's."""

    error_column: int = 1

    def node_at(self, path: KeyPath) -> tuple[Any, Any, int]:
        return None, None, 0

    def position(self, path: KeyPath) -> tuple[int, int]:
        return (self.start_line + 1, self.error_column)


def cache_key(source: SourceFile) -> str | None:
    """The parse cache key of a file: its content key, marked for files in a `templates/` folder
    (where Go templates make a file a Helm template, so the same content parses differently)."""
    if not source.key:
        return None
    return source.key + ":templates" if _in_templates(source.path) else source.key


def _in_templates(path: str) -> bool:
    return "/templates/" in f"/{path}"


def resources_of(document: Document, placement: Placement) -> list[Resource]:
    """The resources of one parsed document (a render stage's output, for instance)."""
    return list(_resources(document.path, document, placement))


def _resources(path: str, document: Document, placement: Placement) -> Iterator[Resource]:
    body = document.body
    if "kind" not in body and "meshConfig" in body:
        yield Resource(
            "", HELM_VALUES_KIND, path, None, body, path, document, target=placement.target
        )
        return
    kind = body.get("kind")
    items = body.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                resource = _resource(path, document, item, ("items", index), placement)
                if resource is not None:
                    yield resource
        return
    resource = _resource(path, document, body, (), placement)
    if resource is not None:
        yield resource


def _resource(
    path: str, document: Document, body: dict[str, Any], prefix: KeyPath, placement: Placement
) -> Resource | None:
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return None
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if not (
        (group in ISTIO_GROUPS and kind in ISTIO_KINDS)
        or (group in GATEWAY_API_GROUPS and kind in GATEWAY_API_KINDS)
        or (group in KUBERNETES_GROUPS and kind in KUBERNETES_KINDS)
        or kind in INSTALLER_KINDS.get(group, ())
    ):
        return None
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name") or metadata.get("generateName") or UNNAMED
    namespace = scope = None
    if kind not in CLUSTER_SCOPED_KINDS:
        written = metadata.get("namespace")
        namespace, scope = placement.namespace_of(path, str(written) if written else None)
    return Resource(
        api_version,
        kind,
        str(name),
        namespace,
        body,
        path,
        document,
        prefix,
        scope=scope,
        target=placement.target,
    )


def _split_documents(text: str) -> Iterator[tuple[int, str]]:
    """Yield (0-based start line, text) for each document, cutting at `---` lines."""
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    line = 0
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        chunk = text[begin:end]
        yield line, chunk
        line += chunk.count("\n")


def _may_matter(doc_text: str) -> bool:
    if any(kind in _WANTED_KINDS for kind in _KIND_VALUE.findall(doc_text)):
        return True
    if _HELM_VALUES.search(doc_text):
        return True
    stripped = doc_text.lstrip("- \t\r\n")
    return stripped.startswith("{")


def _shape_problem(body: Any, doc_text: str) -> str | None:
    """Why a parsed document is too big or too deep to analyse safely, or None.

    Aliases can make a small text expand to a huge tree (an alias bomb), and deep nesting makes
    recursive code (json, fingerprints) fail further down. Without aliases the text bounds the
    depth (each block level is indented further, each flow level opens a bracket), so most
    documents are judged without walking their tree.
    """
    has_aliases = "*" in doc_text and "&" in doc_text
    if not has_aliases:
        bound = max(map(len, doc_text.split("\n"))) + doc_text.count("[") + doc_text.count("{")
        if bound < MAX_NESTING:
            return None
    budget = MAX_EXPANDED_NODES
    stack = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            return (
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)"
                if has_aliases
                else f"more than {MAX_EXPANDED_NODES:,} nodes"
            )
        if depth > MAX_NESTING:
            return (
                f"aliases nest deeper than {MAX_NESTING} levels (a recursive alias?)"
                if has_aliases
                else f"nesting deeper than {MAX_NESTING} levels"
            )
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return None


def _describe_yaml_error(exc: yaml.MarkedYAMLError, doc_text: str, start_line: int) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if (
        "\t" in problem
        or "'\\t'" in problem
        or (mark is not None and _char_at(doc_text, mark) == "\t")
    ):
        problem = "a tab character where YAML needs spaces"
    if "maximum nesting depth" in problem:
        problem = "nesting deeper than YAML parsers accept (1,000 levels)"
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {start_line + mark.line + 1}, column {mark.column + 1}: {problem}"


def _char_at(text: str, mark: Any) -> str:
    lines = text.split("\n", mark.line + 1)
    if mark.line < len(lines) and mark.column < len(lines[mark.line]):
        return str(lines[mark.line][mark.column])
    return ""


def _invalid_manifest(
    exc: yaml.MarkedYAMLError, text: str, doc_text: str, start_line: int
) -> Invalid | None:
    """Where a manifest-looking file without template markers fails to parse, and why."""
    if _TEMPLATE_MARKER.search(text) or not (
        _API_VERSION_LINE.search(doc_text) and _KIND_LINE.search(doc_text)
    ):
        return None
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "while scanning a simple key" and exc.context_mark is not None:
        mark = exc.context_mark  # the line that lacks its `:`, not the token after it
    line, column = (start_line + mark.line + 1, mark.column + 1) if mark else (start_line + 1, 1)
    last = start_line + len(doc_text.rstrip().splitlines())
    if line > last:  # the end of the document: what was left open is on its last line
        line, column = last, 1
    problem = _describe_yaml_error(exc, doc_text, start_line).partition(": ")[2] or "invalid YAML"
    return line, column, problem, "${" in doc_text


def _skip(reason: str) -> ParsedFile:
    return ParsedFile([], reason)
