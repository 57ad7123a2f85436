"""`istio_version` in the config: strict like every key, and it picks the schema set."""

from __future__ import annotations

import pytest

import rules as registry
from rules.core.config import Config, ConfigError, parse_config


def parse(text: str) -> Config:
    return parse_config(text, registry.option_defaults(), "footgun.yml")


def test_default_is_the_newest_release():
    assert Config().istio_version == "1.30"
    assert parse("").istio_version == "1.30"


@pytest.mark.parametrize(
    ("written", "picked"),
    [
        ('"1.24"', "1.24"),
        ("1.24", "1.24"),
        ("1.30", "1.30"),  # YAML reads 1.30 as the number 1.3
        ('"1.30"', "1.30"),
        ('"1.24.6"', "1.24"),
    ],
)
def test_versions_as_people_write_them(written, picked):
    assert parse(f"istio_version: {written}\n").istio_version == picked


@pytest.mark.parametrize("written", ['"1.28"', "1.3.0", "latest", "[1.30]", "true", '"1.2"'])
def test_unknown_versions_are_errors_naming_the_known_ones(written):
    with pytest.raises(ConfigError) as error:
        parse(f"istio_version: {written}\n")
    assert "istio_version must be one of 1.30, 1.24" in str(error.value)


def test_gateway_api_channel_option_is_a_boolean():
    with pytest.raises(ConfigError, match="gateway_api_experimental must be true or false"):
        parse("rules:\n  schema-invalid:\n    gateway_api_experimental: experimental\n")
