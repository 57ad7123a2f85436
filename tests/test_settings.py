"""Settings: FOOTGUN_ variables read at startup, URLs normalised, one-line errors, no secret shown."""

from __future__ import annotations

import pytest

from bot.cli import main as cli
from bot.settings import SettingsError, load_settings
from tests.webhooks import PRIVATE_KEY


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("FOOTGUN_") and name != "FOOTGUN_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_setup():
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///footgun.db"
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.workers, settings.job_max_attempts, settings.log_level) == (2, 5, "INFO")
    assert settings.sweep_interval == 300
    assert settings.has_app_credentials is False
    assert settings.missing_credentials == [
        "FOOTGUN_APP_ID",
        "FOOTGUN_PRIVATE_KEY",
        "FOOTGUN_WEBHOOK_SECRET",
    ]


def test_the_environment_is_read_when_loading_not_at_import(monkeypatch):
    monkeypatch.setenv("FOOTGUN_APP_ID", "12345")
    monkeypatch.setenv("FOOTGUN_WEBHOOK_SECRET", "s3cret-value")
    monkeypatch.setenv("FOOTGUN_PRIVATE_KEY", PRIVATE_KEY.replace("\n", "\\n"))
    monkeypatch.setenv("FOOTGUN_WORKERS", "4")
    settings = load_settings()
    assert (settings.app_id, settings.workers, settings.has_app_credentials) == (12345, 4, True)
    assert settings.private_key.get_secret_value() == PRIVATE_KEY


@pytest.mark.parametrize(
    "given, expected",
    [
        (
            "postgres://u:p@db.internal:5432/footgun",
            "postgresql+asyncpg://u:p@db.internal:5432/footgun",
        ),
        ("postgresql://u@db/footgun", "postgresql+asyncpg://u@db/footgun"),
        (
            "postgresql://u@db/footgun?sslmode=require",
            "postgresql+asyncpg://u@db/footgun?ssl=require",
        ),
        ("postgresql+asyncpg://u@db/footgun", "postgresql+asyncpg://u@db/footgun"),
        ("sqlite:///data/footgun.db", "sqlite+aiosqlite:///data/footgun.db"),
    ],
)
def test_database_urls_get_async_drivers(given, expected):
    assert load_settings(database_url=given).database_url == expected


def test_github_enterprise_api_url_is_kept():
    assert (
        load_settings(github_api_url="https://ghe.example.com/api/v3/").github_api_url
        == "https://ghe.example.com/api/v3"
    )


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("FOOTGUN_WORKERS", "many", "FOOTGUN_WORKERS: Input should be a valid integer"),
        ("FOOTGUN_WORKERS", "-1", "FOOTGUN_WORKERS: Input should be greater than or equal to 0"),
        ("FOOTGUN_APP_ID", "my-app", "FOOTGUN_APP_ID: Input should be a valid integer"),
        (
            "FOOTGUN_DATABASE_URL",
            "mysql://db/x",
            "FOOTGUN_DATABASE_URL: unsupported scheme 'mysql'",
        ),
        ("FOOTGUN_DATABASE_URL", "footgun.db", "FOOTGUN_DATABASE_URL: must be a URL"),
        (
            "FOOTGUN_GITHUB_API_URL",
            "api.github.com",
            "FOOTGUN_GITHUB_API_URL: must be an http(s) URL",
        ),
        ("FOOTGUN_HTTP_TIMEOUT", "0", "FOOTGUN_HTTP_TIMEOUT: Input should be greater than 0"),
        ("FOOTGUN_SWEEP_INTERVAL", "5m", "FOOTGUN_SWEEP_INTERVAL: Input should be a valid number"),
        ("FOOTGUN_SWEEP_INTERVAL", "0", "FOOTGUN_SWEEP_INTERVAL: Input should be greater than 0"),
        (
            "FOOTGUN_LOG_LEVEL",
            "loud",
            "FOOTGUN_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR",
        ),
        (
            "FOOTGUN_PRIVATE_KEY",
            "not-a-key-but-secret",
            "FOOTGUN_PRIVATE_KEY: is not a PEM private key",
        ),
        (
            "FOOTGUN_PRIVATE_KEY_FILE",
            "/nonexistent/key.pem",
            "FOOTGUN_PRIVATE_KEY_FILE: cannot read /nonexistent/key.pem",
        ),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    text = str(error.value)
    assert text.startswith(message)
    assert "\n" not in text and "not-a-key-but-secret" not in text


def test_the_cli_prints_a_bad_setting_as_one_line_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("FOOTGUN_DATABASE_URL", "mysql://db/x")
    assert cli.main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("footgun: FOOTGUN_DATABASE_URL: unsupported scheme 'mysql'")
    assert err.count("\n") == 1


def test_private_key_file_is_read_once_at_load(tmp_path, monkeypatch):
    key = tmp_path / "app.pem"
    key.write_text(PRIVATE_KEY)
    monkeypatch.setenv("FOOTGUN_PRIVATE_KEY_FILE", str(key))
    settings = load_settings()
    key.unlink()
    assert settings.private_key.get_secret_value() == PRIVATE_KEY


def test_a_key_file_without_a_pem_key_is_refused(tmp_path):
    key = tmp_path / "app.pem"
    key.write_text("ssh-rsa AAAA")
    with pytest.raises(SettingsError, match=r"^FOOTGUN_PRIVATE_KEY_FILE: is not a PEM private key"):
        load_settings(private_key_file=key)


def test_secrets_and_the_database_password_stay_out_of_reprs():
    settings = load_settings(
        webhook_secret="hook-secret-123",
        private_key=PRIVATE_KEY,
        app_id=1,
        database_url="postgresql://footgun:db-password-456@db/footgun",
    )
    shown = repr(settings) + str(settings)
    for secret in ("hook-secret-123", "testonlynotarealkey", "db-password-456"):
        assert secret not in shown
    assert "db-password-456" not in settings.database_url_for_logs


def test_a_placeholder_between_pem_markers_is_refused_at_start_naming_the_setting():
    placeholder = (
        "-----BEGIN RSA PRIVATE KEY-----\nreplace with the App's private key\n"
        "-----END RSA PRIVATE KEY-----\n"
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(private_key=placeholder)
    message = str(refused.value)
    assert message.startswith("FOOTGUN_PRIVATE_KEY: holds PEM markers but no loadable private key")
    assert "replace with" not in message and "\n" not in message
