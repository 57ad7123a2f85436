"""The repository configuration, `.github/footgun.yml`, parsed and checked strictly.

A typo in a config file must not silently disable a check, so every unknown key, rule ID or
value is a `ConfigError` whose one-line message names it. Example:

    default_namespace: shop          # unset: resources without a namespace have none known
    namespaces:                      # folders applied with `kubectl -n NAMESPACE`
      apps/payments/**: payments
    render:
      kustomize: auto                # off: kustomizations are read as plain files
      helm: auto
    root_namespace: istio-system
    cluster_domain: cluster.local
    include: ["mesh/**"]
    exclude: ["**/testdata/**"]
    health_paths: [/healthz, /ready]
    probes_rewritten: true
    istio_version: "1.24"
    rules:
      sidecar-missing: off
      short-host-name: error
      authz-blocks-health-probes: warning
    waivers:
      permission: write
      allow_self_waive: false
      max_days: 30
      remind_days_before: 3
    waive:
      - rule: fault-injection
        target: VirtualService/bookinfo/reviews
        until: 2026-12-31
        reason: chaos test until the end of the quarter
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from rules.core.model import SEVERITIES

DEFAULT_HEALTH_PATHS = ("/health", "/healthz", "/ready", "/readyz", "/livez", "/metrics")
PERMISSIONS = ("read", "triage", "write", "maintain", "admin")
ISTIO_VERSIONS = ("1.30", "1.24")
"""The Istio releases whose CRD schemas rule schema-invalid knows (rules/schema), newest first."""


class ConfigError(ValueError):
    """A config problem, worded as one line a user can act on."""


@dataclass(frozen=True, slots=True)
class RuleSettings:
    enabled: bool = True
    severity: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WaiverSettings:
    permission: str = "write"
    allow_self_waive: bool = False
    max_days: int = 30
    remind_days_before: int = 3


@dataclass(frozen=True, slots=True)
class ConfigWaiver:
    """A waiver written in the config file: the offline counterpart of `/footgun waive`."""

    rule: str
    target: str | None
    until: dt.date
    reason: str


RENDER_MODES = ("auto", "off")


@dataclass(frozen=True, slots=True)
class ChartSettings:
    """A chart the config names: where it is, which values files, its release and namespace."""

    path: str
    values: tuple[str, ...] = ()
    release: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """`render:` what the render stage may build (see DESIGN, "Targets")."""

    kustomize: str = "auto"
    helm: str = "auto"
    charts: tuple[ChartSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    default_namespace: str | None = None
    """The namespace of resources for which nothing else determines one. Unset (the default):
    their namespace is unknown, never silently `default`."""
    namespaces: tuple[tuple[str, str], ...] = ()
    """(path glob, namespace) pairs, in config order: namespace-less resources of matching files
    are applied to that namespace (`kubectl apply -n`). The first matching glob wins."""
    render: RenderSettings = field(default_factory=RenderSettings)
    root_namespace: str = "istio-system"
    cluster_domain: str = "cluster.local"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    rules: dict[str, RuleSettings] = field(default_factory=dict)
    waivers: WaiverSettings = field(default_factory=WaiverSettings)
    waive: tuple[ConfigWaiver, ...] = ()
    health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    """Paths kubelet probes use: authorization must let callers without identity reach them."""
    probes_rewritten: bool = True
    """Whether the mesh's injector rewrites probes to the sidecar agent (Istio's default), so
    they bypass authorization. `false` for a mesh, installed elsewhere, that turned it off."""
    istio_version: str = ISTIO_VERSIONS[0]
    """The Istio release whose CRD schemas resources are validated against."""

    def namespace_for(self, path: str) -> str | None:
        """The namespace the config gives namespace-less resources of file `path`, or None."""
        for pattern, namespace in self.namespaces:
            if glob_matches(path, pattern):
                return namespace
        return self.default_namespace

    def rule(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings())

    def wants(self, path: str) -> bool:
        """Whether a file takes part in the analysis: a YAML file, included and not excluded."""
        if not path.endswith((".yaml", ".yml")):
            return False
        if self.include and not any(glob_matches(path, g) for g in self.include):
            return False
        return not any(glob_matches(path, g) for g in self.exclude)


_TOP_KEYS = {
    "default_namespace",
    "namespaces",
    "render",
    "root_namespace",
    "cluster_domain",
    "include",
    "exclude",
    "rules",
    "waivers",
    "waive",
    "health_paths",
    "probes_rewritten",
    "istio_version",
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_config(
    text: str, known_rules: dict[str, dict[str, Any]], source: str = "config"
) -> Config:
    """Parse config text. `known_rules` maps each rule ID to its option defaults.

    The config is small and people edit it by hand, so it is read with ruamel.yaml's round-trip
    loader: errors point at the line of the offending key (`footgun.yml:7: unknown rule ...`),
    and duplicate keys are an error rather than a silent override. (Imported here: a run
    without a config file does not pay for the import.)
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = YAML(typ="rt").load(text) if text.strip() else {}
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").splitlines()[0]
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: invalid YAML: {problem}") from None
    except YAMLError:
        raise ConfigError(f"{source}: invalid YAML") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    unknown = [key for key in data if str(key) not in _TOP_KEYS]
    if unknown:
        known = ", ".join(sorted(_TOP_KEYS))
        raise ConfigError(
            f"{_at(source, data, unknown[0])}: unknown key '{unknown[0]}' (known: {known})"
        )

    kwargs: dict[str, Any] = {}
    for key in ("default_namespace", "root_namespace"):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not _DNS_LABEL.match(value):
                raise ConfigError(f"{source}: {key} must be a namespace name, got {value!r}")
            kwargs[key] = value
    if "namespaces" in data:
        kwargs["namespaces"] = _parse_namespaces(data["namespaces"], source)
    if "render" in data:
        kwargs["render"] = _parse_render(data["render"], source)
    if "cluster_domain" in data:
        if not isinstance(data["cluster_domain"], str) or not data["cluster_domain"]:
            raise ConfigError(f"{source}: cluster_domain must be a domain such as cluster.local")
        kwargs["cluster_domain"] = data["cluster_domain"].strip(".")
    for key in ("include", "exclude"):
        if key in data:
            kwargs[key] = tuple(_string_list(data[key], f"{source}: {key}"))
    if "health_paths" in data:
        kwargs["health_paths"] = _parse_health_paths(data["health_paths"], source)
    if "probes_rewritten" in data:
        if not isinstance(data["probes_rewritten"], bool):
            raise ConfigError(f"{source}: probes_rewritten must be true or false")
        kwargs["probes_rewritten"] = data["probes_rewritten"]
    if "istio_version" in data:
        kwargs["istio_version"] = _parse_istio_version(data["istio_version"], source)
    kwargs["rules"] = _parse_rules(data.get("rules") or {}, known_rules, source)
    kwargs["waivers"] = _parse_waiver_settings(data.get("waivers") or {}, source)
    kwargs["waive"] = tuple(_parse_waive(data.get("waive") or [], known_rules, source))
    return Config(**kwargs)


def _namespace_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > 63:
        raise ConfigError(f"{where} must be a namespace name, got {value!r}")
    return value


def _parse_namespaces(data: Any, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: namespaces must be a mapping of path globs to namespaces "
            "(such as apps/payments/**: payments)"
        )
    out = []
    for pattern, namespace in data.items():
        where = f"{_at(source, data, pattern)}: namespaces.{pattern}"
        if not isinstance(pattern, str) or not pattern.strip():
            raise ConfigError(f"{where}: a key must be a path glob")
        out.append((pattern.strip().strip("/") or pattern, _namespace_name(namespace, where)))
    return tuple(out)


def _parse_render(data: Any, source: str) -> RenderSettings:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: render must be a mapping (kustomize, helm, charts)")
    values: dict[str, Any] = {}
    for key, item in data.items():
        where = f"{_at(source, data, key)}: render.{key}"
        if key in ("kustomize", "helm"):
            if item is False:
                item = "off"  # YAML 1.1 reads a bare `off` as false
            if item not in RENDER_MODES:
                raise ConfigError(f"{where} must be auto or off, got {item!r}")
            values[key] = item
        elif key == "charts":
            values[key] = tuple(_parse_charts(item, where))
        else:
            raise ConfigError(
                f"{_at(source, data, key)}: unknown key 'render.{key}' (known: charts, helm, "
                "kustomize)"
            )
    return RenderSettings(**values)


def _parse_charts(data: Any, where: str) -> list[ChartSettings]:
    if not isinstance(data, list):
        raise ConfigError(f"{where} must be a list of {{path, values, release, namespace}}")
    out = []
    for index, entry in enumerate(data):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at} must be a mapping with path, values, release, namespace")
        extra = set(map(str, entry)) - {"path", "values", "release", "namespace"}
        if extra:
            raise ConfigError(f"{at}: unknown key '{sorted(extra)[0]}'")
        path = entry.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{at}: path must name the chart's folder")
        release = entry.get("release")
        if release is not None and not isinstance(release, str):
            raise ConfigError(f"{at}: release must be a string")
        namespace = entry.get("namespace")
        out.append(
            ChartSettings(
                path.strip().strip("/"),
                tuple(_string_list(entry.get("values") or [], f"{at}.values")),
                release,
                None if namespace is None else _namespace_name(namespace, f"{at}.namespace"),
            )
        )
    return out


def _parse_istio_version(value: Any, source: str) -> str:
    """`"1.24"`, `1.24` (YAML reads it as a number: 1.30 arrives as 1.3) or `"1.24.6"`."""
    for known in ISTIO_VERSIONS:
        if isinstance(value, float) and float(known) == value:
            return known
        if isinstance(value, str) and (value == known or value.startswith(known + ".")):
            return known
    raise ConfigError(
        f"{source}: istio_version must be one of {', '.join(ISTIO_VERSIONS)} "
        f"(the Istio releases whose schemas are known), got {value!r}"
    )


def _parse_health_paths(value: Any, source: str) -> tuple[str, ...]:
    paths = _string_list(value, f"{source}: health_paths")
    if not paths:
        raise ConfigError(
            f"{source}: health_paths must list at least one path "
            "(to stop checking probes, set rule authz-blocks-health-probes to off)"
        )
    for path in paths:
        if not path.startswith("/") or any(c in path for c in "*?# \t"):
            raise ConfigError(
                f"{source}: health_paths entries must be plain paths such as /healthz, got {path!r}"
            )
    return tuple(dict.fromkeys(paths))


def _parse_rules(
    data: Any, known_rules: dict[str, dict[str, Any]], source: str
) -> dict[str, RuleSettings]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: rules must be a mapping of rule ID to settings")
    out = {}
    for rule_id, value in data.items():
        if rule_id not in known_rules:
            hint = _suggest(str(rule_id), known_rules)
            raise ConfigError(f"{_at(source, data, rule_id)}: unknown rule '{rule_id}'{hint}")
        where = f"{_at(source, data, rule_id)}: rules.{rule_id}"
        if value is False or value == "off":
            out[rule_id] = RuleSettings(enabled=False)
        elif value is True or value == "on":
            out[rule_id] = RuleSettings()
        elif value in SEVERITIES:
            out[rule_id] = RuleSettings(severity=value)
        elif isinstance(value, dict):
            out[rule_id] = _parse_rule_mapping(value, known_rules[rule_id], where)
        else:
            raise ConfigError(
                f"{where}: expected off, on, error, warning or a mapping, got {value!r}"
            )
    return out


def _parse_rule_mapping(
    value: dict[str, Any], defaults: dict[str, Any], where: str
) -> RuleSettings:
    enabled, severity, options = True, None, {}
    for key, item in value.items():
        if key == "enabled":
            if not isinstance(item, bool):
                raise ConfigError(f"{where}.enabled must be true or false")
            enabled = item
        elif key == "severity":
            if item == "off":
                enabled = False
            elif item not in SEVERITIES:
                raise ConfigError(f"{where}.severity must be error, warning or off, got {item!r}")
            else:
                severity = item
        elif key in defaults:
            default = defaults[key]
            if isinstance(default, bool) and not isinstance(item, bool):
                raise ConfigError(f"{where}.{key} must be true or false")
            if isinstance(default, list | tuple):
                item = tuple(_string_list(item, f"{where}.{key}"))
            elif isinstance(default, int) and not isinstance(default, bool):
                if not isinstance(item, int) or isinstance(item, bool):
                    raise ConfigError(f"{where}.{key} must be a whole number")
            elif isinstance(default, str) and not isinstance(item, str):
                raise ConfigError(f"{where}.{key} must be a string")
            options[key] = item
        else:
            known = ", ".join(["enabled", "severity", *sorted(defaults)])
            raise ConfigError(f"{where}: unknown option '{key}' (known: {known})")
    return RuleSettings(enabled, severity, options)


def _parse_waiver_settings(data: Any, source: str) -> WaiverSettings:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: waivers must be a mapping")
    defaults = WaiverSettings()
    values: dict[str, Any] = {}
    for key, item in data.items():
        where = f"{_at(source, data, key)}: waivers.{key}"
        if key == "permission":
            if item not in PERMISSIONS:
                raise ConfigError(f"{where} must be one of {', '.join(PERMISSIONS)}")
        elif key == "allow_self_waive":
            if not isinstance(item, bool):
                raise ConfigError(f"{where} must be true or false")
        elif key in ("max_days", "remind_days_before"):
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise ConfigError(f"{where} must be a whole number of days")
        else:
            raise ConfigError(f"{_at(source, data, key)}: unknown key 'waivers.{key}'")
        values[key] = item
    return WaiverSettings(**{**_asdict(defaults), **values})


def _parse_waive(data: Any, known_rules: dict[str, Any], source: str) -> list[ConfigWaiver]:
    if not isinstance(data, list):
        raise ConfigError(f"{source}: waive must be a list")
    out = []
    for index, entry in enumerate(data):
        where = f"{_at(source, data, index)}: waive[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping with rule, until and reason")
        extra = set(entry) - {"rule", "target", "until", "reason"}
        if extra:
            raise ConfigError(f"{where}: unknown key '{sorted(extra)[0]}'")
        rule = entry.get("rule")
        if rule not in known_rules:
            raise ConfigError(f"{where}: unknown rule '{rule}'{_suggest(str(rule), known_rules)}")
        until = entry.get("until")
        if isinstance(until, str):
            try:
                until = dt.date.fromisoformat(until)
            except ValueError:
                until = None
        if not isinstance(until, dt.date):
            raise ConfigError(f"{where}: until must be a date (YYYY-MM-DD)")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where}: a reason is required")
        target = entry.get("target")
        if target is not None and not isinstance(target, str):
            raise ConfigError(f"{where}: target must be Kind/namespace/name or a path")
        out.append(ConfigWaiver(rule, target, until, reason.strip()))
    return out


def _string_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return value


def _suggest(word: str, known: dict[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(known), n=2, cutoff=0.5)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def glob_matches(path: str, pattern: str) -> bool:
    """Gitignore-like globs: `**` crosses folders, a pattern without `/` matches any base name."""
    if "/" not in pattern.rstrip("/"):
        base_name = path.rsplit("/", 1)[-1]
        return fnmatch.fnmatchcase(base_name, pattern) or glob_matches(path, "**/" + pattern)
    regex = re.escape(pattern.rstrip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.fullmatch(regex + "(?:/.*)?", path) is not None


def _at(source: str, container: Any, key: Any) -> str:
    """`source:line` of a key (or list item) as ruamel.yaml recorded it, else just `source`."""
    lc = getattr(container, "lc", None)
    if lc is None:
        return source
    try:
        line = lc.key(key)[0] if isinstance(container, dict) else lc.item(key)[0]
    except (AttributeError, KeyError, IndexError, TypeError):
        return source
    return f"{source}:{line + 1}"


def _asdict(settings: WaiverSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__slots__}
