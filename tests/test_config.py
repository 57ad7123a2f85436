import pytest

from rules.core.config import DEFAULT_HEALTH_PATHS, Config, ConfigError
from tests.helpers import config


def test_health_defaults():
    parsed = config("")
    assert parsed.health_paths == DEFAULT_HEALTH_PATHS == Config().health_paths
    assert parsed.probes_rewritten is True, "Istio rewrites probes by default"


def test_health_paths_and_probes_rewritten_are_top_level_keys():
    parsed = config("health_paths: [/status, /ping, /status]\nprobes_rewritten: false\n")
    assert parsed.health_paths == ("/status", "/ping")
    assert parsed.probes_rewritten is False
    assert config("health_paths: /status\n").health_paths == ("/status",)


@pytest.mark.parametrize(
    "text, message",
    [
        ("health_paths: []\n", "config: health_paths must list at least one path"),
        ("health_paths: {a: b}\n", "config: health_paths must be a list of strings"),
        ("health_paths: [1]\n", "config: health_paths must be a list of strings"),
        ("health_paths: [healthz]\n", "plain paths such as /healthz, got 'healthz'"),
        ("health_paths: ['/health*']\n", "plain paths such as /healthz, got '/health*'"),
        ("probes_rewritten: yes please\n", "config: probes_rewritten must be true or false"),
        ("probes_rewritten: 1\n", "config: probes_rewritten must be true or false"),
        ("health_path: [/x]\n", "config:1: unknown key 'health_path'"),
    ],
)
def test_bad_health_settings_are_one_line_errors(text, message):
    with pytest.raises(ConfigError) as caught:
        config(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_health_settings_are_not_rule_options():
    with pytest.raises(ConfigError, match="unknown option 'health_paths'"):
        config("rules:\n  authz-blocks-health-probes:\n    health_paths: [/x]\n")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "rules:\n  fault-injection: off\n  fault-injektion: off\n",
            "config:3: unknown rule 'fault-injektion' (did you mean fault-injection?)",
        ),
        ("waivers:\n  max_days: 30\n  max_day: 3\n", "config:3: unknown key 'waivers.max_day'"),
        ("rules:\n  short-host-name: loud\n", "config:2: rules.short-host-name: expected off, on"),
        (
            "waive:\n  - rule: fault-injection\n    until: soon\n    reason: x\n",
            "config:2: waive[0]: until must be a date",
        ),
        ("rules: {}\nrules: {}\n", 'config:2: invalid YAML: found duplicate key "rules"'),
        ("rules: [\n", "config:2: invalid YAML"),
    ],
)
def test_errors_name_the_line_of_the_offending_key(text, message):
    with pytest.raises(ConfigError) as caught:
        config(text)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
