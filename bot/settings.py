"""The App's settings: one pydantic-settings class, read once at startup, never at import.

Every variable carries the `FOOTGUN_` prefix. A malformed value stops the process with one line
that names the variable (`SettingsError`), not a traceback. Secrets are `SecretStr`, so they show
as `**********` in reprs and logs; the database URL may hold a password and is left out of reprs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "FOOTGUN_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///footgun.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(Exception):
    """A setting is missing or malformed: printed as one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    webhook_secret: SecretStr | None = None
    database_url: str = Field(DEFAULT_DATABASE_URL, repr=False)
    github_api_url: str = "https://api.github.com"
    workers: int = Field(2, ge=0, le=64)
    job_max_attempts: int = Field(5, ge=1, le=50)
    http_timeout: float = Field(30.0, gt=0, le=600)
    delivery_retention_days: int = Field(30, ge=1, le=3650)
    sweep_interval: float = Field(300.0, gt=0, le=86400)
    """Seconds between waiver sweeps in each serving process (reminders, passed deadlines)."""
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    """JSON lines for log collectors; `auto` writes readable text when stderr is a terminal."""
    public_url: str | None = None
    """Where GitHub reaches this server (`https://footgun.example.com`); else the request's host."""
    github_web_url: str | None = None
    """GitHub's web pages (the manifest flow); derived from `github_api_url` when unset."""
    credentials_file: Path | None = None
    """Where /setup stores the App it registered; default: beside the SQLite database."""
    app_manifest: Path | None = None
    """The App manifest /setup posts; default: app.yml of this checkout, else of the working dir."""
    setup_enabled: bool = True
    app_html_url: str | None = None
    """The App's page on GitHub, known when /setup registered it (read from the credentials file)."""

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("github_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http(s) URL such as https://api.github.com or https://HOST/api/v3"
            )
        return value.strip().rstrip("/")

    @field_validator("public_url", "github_web_url")
    @classmethod
    def _origin_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise ValueError("must be an http(s) URL such as https://footgun.example.com")
        return value.strip().rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("private_key")
    @classmethod
    def _pem(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            value = SecretStr(value.get_secret_value().replace("\\n", "\n").strip() + "\n")
            _check_pem(value)
        return value

    @model_validator(mode="after")
    def _key_from_file(self) -> Settings:
        """Read `PRIVATE_KEY_FILE` once, so a missing file fails at startup, not at the first job."""
        if self.private_key is None and self.private_key_file is not None:
            try:
                text = self.private_key_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                message = f"PRIVATE_KEY_FILE: cannot read {self.private_key_file}: {exc.__class__.__name__}"
                raise ValueError(message) from None
            key = SecretStr(text.strip() + "\n")
            try:
                _check_pem(key)
            except ValueError as exc:
                raise ValueError(f"PRIVATE_KEY_FILE: {exc}") from None
            object.__setattr__(self, "private_key", key)
        return self

    @model_validator(mode="after")
    def _registered_credentials(self) -> Settings:
        """The App /setup registered, when the environment names none (the environment wins)."""
        if self.github_web_url is None:
            object.__setattr__(self, "github_web_url", web_url_for(self.github_api_url))
        if self.credentials_file is None:
            object.__setattr__(
                self, "credentials_file", default_credentials_file(self.database_url)
            )
        if (
            self.app_id is not None
            or self.private_key is not None
            or self.webhook_secret is not None
        ):
            return self
        stored = read_credentials(self.credentials_file)
        if stored is not None:
            for name, value in stored.items():
                object.__setattr__(self, name, value)
        return self

    @property
    def missing_credentials(self) -> list[str]:
        """The App variables still unset: without them the App cannot verify or answer webhooks."""
        missing = []
        if self.app_id is None:
            missing.append(PREFIX + "APP_ID")
        if self.private_key is None:
            missing.append(PREFIX + "PRIVATE_KEY")
        if self.webhook_secret is None:
            missing.append(PREFIX + "WEBHOOK_SECRET")
        return missing

    @property
    def has_app_credentials(self) -> bool:
        return not self.missing_credentials

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_url_for_logs(self) -> str:
        """The database URL with any password masked."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    def secrets(self) -> list[str]:
        """Secret values to scrub from every log line."""
        return [
            s.get_secret_value() for s in (self.webhook_secret, self.private_key) if s is not None
        ]

    def with_credentials(self, stored: dict[str, object]) -> Settings:
        """These settings with an App registered while the server runs (see `read_credentials`)."""
        return self.model_copy(update=stored)


CREDENTIAL_FIELDS = {"app_id": int, "private_key": str, "webhook_secret": str}


def read_credentials(path: Path | None) -> dict[str, object] | None:
    """The App stored by /setup: app_id, private_key, webhook_secret (and app_html_url), or None.

    The file is JSON written with mode 0600; a broken one stops startup with one line that names
    the file, never its content.
    """
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"CREDENTIALS_FILE: cannot read {path}: {exc.__class__.__name__}"
        ) from None
    if not isinstance(data, dict) or any(
        not isinstance(data.get(k), t) for k, t in CREDENTIAL_FIELDS.items()
    ):
        raise ValueError(
            f"CREDENTIALS_FILE: {path} must be a JSON object with app_id, private_key and webhook_secret"
        )
    key = SecretStr(data["private_key"].strip() + "\n")
    try:
        _check_pem(key)
    except ValueError as exc:
        raise ValueError(f"CREDENTIALS_FILE: {path}: private_key {exc}") from None
    stored: dict[str, object] = {
        "app_id": data["app_id"],
        "private_key": key,
        "webhook_secret": SecretStr(data["webhook_secret"]),
    }
    if isinstance(data.get("html_url"), str):
        stored["app_html_url"] = data["html_url"]
    return stored


def web_url_for(api_url: str) -> str:
    """GitHub's web root for an API root: api.github.com -> github.com, HOST/api/v3 -> HOST."""
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    if path.endswith("/api/v3"):
        return urlunsplit(parts._replace(path=path.removesuffix("/api/v3"))).rstrip("/")
    if parts.hostname and parts.hostname.startswith("api."):
        return urlunsplit(
            parts._replace(netloc=parts.netloc.removeprefix("api."), path=path)
        ).rstrip("/")
    return api_url.rstrip("/")


def default_credentials_file(database_url: str) -> Path:
    """`footgun-credentials.json` beside the SQLite file (its volume), else in the working dir."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    name = "footgun-credentials.json"
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_name(name)
    return Path(name)


def _check_pem(key: SecretStr) -> None:
    text = key.get_secret_value()
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        raise ValueError(
            "is not a PEM private key (expected a '-----BEGIN ... PRIVATE KEY-----' block)"
        )


def normalise_database_url(url: str) -> str:
    """Async drivers for the URLs people paste: `postgres://`, `postgresql://`, `sqlite:///`."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be a URL such as sqlite:///footgun.db or postgresql://user@host/db")
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return _asyncpg_query(f"postgresql+asyncpg://{rest}")
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(
        f"unsupported scheme {scheme!r}: use sqlite:///FILE or postgresql://USER@HOST/DB"
    )


def _asyncpg_query(url: str) -> str:
    """asyncpg names libpq's `sslmode` `ssl`; hosted PostgreSQL URLs usually carry `sslmode`."""
    parts = urlsplit(url)
    query = [
        ("ssl" if k == "sslmode" else k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `overrides`); raise `SettingsError` with one line on bad input."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates them
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        name = PREFIX + field.upper() if field != "settings" else "settings"
        for prefix in ("PRIVATE_KEY_FILE", "CREDENTIALS_FILE"):
            if message.startswith(prefix + ": "):
                name, message = PREFIX + prefix, message.removeprefix(prefix + ": ")
        raise SettingsError(f"{name}: {message}") from None


def registration_hint(settings: Settings) -> str:
    """What to do when the App is not registered yet: logged at startup and on refused webhooks."""
    return (
        "GitHub App credentials are not set (missing "
        + ", ".join(settings.missing_credentials)
        + "): open /setup on this server to register the App from app.yml, or register the App"
        " by hand (GitHub: Settings > Developer settings > GitHub Apps) and set FOOTGUN_APP_ID,"
        " FOOTGUN_PRIVATE_KEY or FOOTGUN_PRIVATE_KEY_FILE, and FOOTGUN_WEBHOOK_SECRET"
    )
