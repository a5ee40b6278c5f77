"""Configuration: one `Settings` object read from `BILLING_*` variables and an optional `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing.core.catalog.field_errors import field_message
from billing.core.console_links import DEFAULT_LIFETIME_DAYS, MAX_LIFETIME_DAYS
from billing.core.console_tokens import MIN_SECRET_LENGTH
from billing.core.errors import BillingError
from billing.core.frame_ancestors import check_frame_ancestors
from billing.notify.webhooks import check_secret, check_url

LOCAL_PUBLIC_URL = "http://127.0.0.1:8000"


def check_public_url(url: str) -> str:
    """The API's public base URL without its trailing "/", or ValueError saying what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://billing.example.com")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError("must be a base URL: no ?query nor #fragment (console paths are added to it)")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    return url.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BILLING_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///var/billing.db"
    catalog: Path = Path("config/catalog.example.yaml")
    email_backend: Literal["outbox", "sendgrid"] = "outbox"
    outbox_dir: Path = Path("var/outbox")
    sendgrid_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("BILLING_SENDGRID_API_KEY", "SENDGRID_API_KEY")
    )
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str = "billing@example.com"
    # signs console tokens (SPEC §8); unset, the console is off (there is no default secret)
    console_secret: SecretStr | None = None
    console_ttl_minutes: int = Field(default=30, ge=1, le=60)
    # who may frame the console: CSP frame-ancestors source expressions, space separated
    console_frame_ancestors: str = "'self'"
    # where the API is reached from outside (http(s), no query): console URLs point there, and
    # emails carry a console link only when it and the console secret are both set
    public_url: str | None = None
    # how long the console link in an email opens the console (SPEC §8)
    console_link_days: int = Field(default=DEFAULT_LIFETIME_DAYS, ge=1, le=MAX_LIFETIME_DAYS)
    invoice_grace_hours: int = Field(default=24, ge=0)
    invoice_due_days: int = Field(default=30, ge=0)
    # an invoice whose subtotal is 0 is issued and numbered; emailed only when this is true
    email_zero_invoices: bool = False
    # how long an API request may wait for a database connection, and run each statement
    api_database_timeout_seconds: float = Field(default=10, gt=0, le=300)
    # requests a second per API key on average, and at once (SPEC §8): past them, 429
    api_rate_limit: float = Field(default=50, gt=0, le=1_000_000, allow_inf_nan=False)
    api_rate_burst: int = Field(default=100, ge=1, le=1_000_000)
    # where every notification is also POSTed as a signed JSON webhook (SPEC §9); both or neither
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # the scheduled inbox takes a file once it has not been modified for this long (a producer
    # may still be writing it); also the clock difference tolerated between us and its storage
    inbox_settle_seconds: float = Field(default=60, ge=0, le=86_400, allow_inf_nan=False)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return check_url(value) if value and value.strip() else None

    @field_validator("webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(check_secret(value.get_secret_value()))

    @field_validator("public_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        return check_public_url(value) if value and value.strip() else None

    @field_validator("console_secret")
    @classmethod
    def _long_console_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters (got {len(value.get_secret_value())}): "
                "anyone who guesses it can open any customer's console (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("console_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        return check_frame_ancestors(value)

    @property
    def console_public_url(self) -> str:
        """Where console URLs point: `BILLING_PUBLIC_URL`, or the local API unset."""
        return self.public_url or LOCAL_PUBLIC_URL

    @model_validator(mode="after")
    def _webhook_url_and_secret_together(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError(
                "BILLING_WEBHOOK_URL is set but BILLING_WEBHOOK_SECRET is not: webhooks are "
                "always signed (set it to whsec_ followed by a base64 key)"
            )
        if self.webhook_secret is not None and not self.webhook_url:
            raise ValueError(
                "BILLING_WEBHOOK_SECRET is set but BILLING_WEBHOOK_URL is not: set both or neither"
            )
        return self


# may hold a password, a key or a token
_NOT_ECHOED = {"database_url", "sendgrid_api_key", "console_secret", "webhook_url", "webhook_secret"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; a bad value is a `BillingError` naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            if not item["loc"]:  # a check of several settings: its message names them
                problems.append(field_message(item))
                continue
            name = str(item["loc"][0])
            shown = "" if name in _NOT_ECHOED else f" (got {item.get('input')!r})"
            problems.append(f"BILLING_{name.upper()}: {field_message(item)}{shown}")
        raise BillingError("\n".join(problems)) from None
