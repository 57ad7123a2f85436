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

from cryptography.exceptions import UnsupportedAlgorithm
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "FOOTGUN_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///footgun.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(Exception):
    """A setting is missing or malformed: printed as one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    app_id: int | None = Field(None, description="the App's ID")
    private_key: SecretStr | None = Field(
        None, description="the App's private key, PEM text (checked at start: a placeholder fails)"
    )
    private_key_file: Path | None = Field(
        None, description="a file holding the App's private key, instead of `PRIVATE_KEY`"
    )
    webhook_secret: SecretStr | None = Field(None, description="the App's webhook secret")
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        repr=False,
        description="`sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST/DB` (as pasted)",
        json_schema_extra={"shown_default": "sqlite:///footgun.db"},
    )
    github_api_url: str = Field(
        "https://api.github.com", description="GitHub Enterprise Server: `https://HOST/api/v3`"
    )
    workers: int = Field(2, ge=0, le=64, description="in-process job workers")
    job_max_attempts: int = Field(
        5, ge=1, le=50, description="then the check run concludes with the error"
    )
    http_timeout: float = Field(30.0, gt=0, le=600, description="seconds, for calls to GitHub")
    delivery_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="webhook deliveries older than this are deleted hourly, unless their job is "
        "still queued or running",
    )
    sweep_interval: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="seconds between waiver sweeps (reminders, passed deadlines) in each "
        "`footgun serve`; `footgun sweep` from cron does the same once",
    )
    check_sweep_interval: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="seconds between sweeps that conclude check runs a job left running "
        "(GitHub was down, or the head moved on), in each `footgun serve`",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="`json` (one object a line, for log collectors), `text`, or `auto`: text on "
        "a terminal, JSON otherwise; secrets are redacted either way",
    )
    public_url: str | None = Field(
        None,
        description="where GitHub reaches this server, e.g. `https://footgun.example.com`",
        json_schema_extra={"shown_default": "the host a browser used"},
    )
    github_web_url: str | None = Field(
        None,
        description="GitHub's web pages, for the setup flow",
        json_schema_extra={"shown_default": "derived from the API URL"},
    )
    credentials_file: Path | None = Field(
        None,
        description="where `/setup` stores the App it registered",
        json_schema_extra={"shown_default": "`footgun-credentials.json` beside the SQLite file"},
    )
    app_manifest: Path | None = Field(
        None,
        description="the App manifest `/setup` posts",
        json_schema_extra={
            "shown_default": "`app.yml` of the checkout (`/app/app.yml` in the image)"
        },
    )
    setup_enabled: bool = Field(True, description="`false` turns `/setup` off")
    app_html_url: str | None = Field(
        None,
        description="the App's page on GitHub (known when `/setup` registered it)",
        json_schema_extra={"shown_default": "read from the credentials file"},
    )

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
    """Load the key now, so a placeholder between PEM markers fails at start-up with one line,
    not at the first webhook with a traceback. The message never quotes the key."""
    text = key.get_secret_value()
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        raise ValueError(
            "is not a PEM private key (expected a '-----BEGIN ... PRIVATE KEY-----' block)"
        )
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "holds PEM markers but no loadable private key: paste the key GitHub generated "
            "for the App (Settings > Developer settings > GitHub Apps > Private keys)"
        ) from None


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


def settings_table() -> list[str]:
    """The settings as a Markdown table, generated from the fields above so the docs that show
    it (README, docs/deploy.md) cannot drift from the code."""
    rows = ["| variable | default | what |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = extra.get("shown_default")
        if shown is None:
            default = field.default
            if isinstance(default, bool):
                shown = f"`{str(default).lower()}`"
            elif isinstance(default, float) and default.is_integer():
                shown = f"`{int(default)}`"
            else:
                shown = "-" if default is None else f"`{default}`"
        elif not str(shown).startswith("`") and "://" in str(shown):
            shown = f"`{shown}`"
        rows.append(f"| `{PREFIX}{name.upper()}` | {shown} | {field.description or ''} |")
    return rows
