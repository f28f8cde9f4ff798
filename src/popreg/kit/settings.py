"""Typed settings, read from ``POPREG_*`` environment variables (and an optional ``.env`` file).

The development profile works out of the box (an SQLite file in the working directory and
well-known development secrets); the production profile refuses to start while any secret still has
its development value, so a forgotten variable can never ship a guessable key.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - the marker the production check refuses


class Profile(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettingsError(RuntimeError):
    """The production profile was started with a development secret or an unsafe option."""


class Settings(BaseSettings):
    """Every setting of the platform. Each field is the variable ``POPREG_<FIELD>`` upper-cased."""

    model_config = SettingsConfigDict(env_prefix="POPREG_", env_file=".env", extra="ignore")

    profile: Profile = Profile.DEVELOPMENT
    database_url: str = Field(
        default="sqlite:///popreg.db",
        description="SQLAlchemy URL of the primary database: sqlite:///FILE or postgresql+psycopg://...",
    )
    read_database_url: str | None = Field(
        default=None,
        description="Optional read-only URL (a PostgreSQL streaming replica) for verification reads and exports.",
    )
    database_pool_size: int = 10
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    pin_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET),
        description="Key of the PIN serial permutation. Fixed for the life of a deployment: "
        "changing it after PINs were issued would make new serials collide with old ones.",
    )
    session_hours: int = Field(default=8, ge=1, le=24, description="Lifetime of an official's session.")
    login_attempts_per_15_minutes: int = 10
    default_language: str = "vi"
    cookie_secure: bool = False
    signing_key: SecretStr | None = Field(
        default=None,
        description="PEM of the EC P-256 private key that signs verification answers (JWS ES256). "
        "Unset in development and tests: a key is derived from POPREG_SECRET_KEY; production requires it.",
    )
    public_url: str | None = Field(
        default=None,
        description="The platform's public base URL (https://popreg.example) when a proxy terminates TLS: "
        "partners' client assertions may name its token endpoint as their audience.",
    )
    access_token_minutes: int = Field(
        default=10, ge=1, le=60, description="Lifetime of a partner's access token (OAuth 2.0 client credentials)."
    )
    gateway_workers: int = Field(
        default=1, ge=1, description="Serving processes of the gateway: each enforces its share of a partner's rate."
    )
    gateway_refresh_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often each process reloads partner policies and shares quota counts: the longest "
        "a suspension or policy change takes to reach every process.",
    )
    bulk_directory: str = Field(
        default="popreg-bulk",
        description="Where bulk verification jobs keep their files (the upload and the result, a folder per "
        "job); every serving process of a deployment must see the same directory.",
    )
    job_result_retention_hours: int = Field(
        default=168,
        ge=1,
        description="How long the result of a bulk verification or sync file job can be downloaded after the "
        "job completed; then the job is expired (results refused with 410 JOB_RESULT_EXPIRED) and its files "
        "are deleted within minutes. Results link PINs to match outcomes: keep them no longer than partners need.",
    )
    sync_file_max_bytes: int = Field(
        default=1 << 30,
        ge=1,
        description="The largest file of updates an agency can upload (POST /api/v1/sync/files); a larger body "
        "is refused with 413 INPUT_TOO_LARGE. Its jobs keep their files under POPREG_BULK_DIRECTORY/sync-files.",
    )
    events_dispatch_in_serve: bool = Field(
        default=False,
        description="Run an event dispatcher inside each `popreg serve` process (otherwise run "
        "`popreg events dispatch` as its own service).",
    )
    events_max_attempts: int = Field(
        default=15, ge=1, description="Attempts to deliver an event to a subscriber before it is dead-lettered."
    )
    events_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="Wait after the first failed delivery; it doubles after each failure."
    )
    events_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between two attempts to deliver an event."
    )
    events_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a subscriber's webhook may take to answer one event."
    )
    events_batch_size: int = Field(default=100, ge=1, description="Deliveries a dispatcher claims at a time.")
    events_poll_seconds: float = Field(default=1.0, gt=0, description="How often an idle dispatcher looks for events.")
    nats_url: str | None = Field(
        default=None,
        description="NATS server (nats://host:4222): when set, every event is also published to JetStream.",
    )
    nats_stream: str = Field(default="POPREG_EVENTS", description="The JetStream stream that keeps the events.")
    nats_subject_prefix: str = Field(
        default="popreg.events", description="Events are published on <prefix>.<type>, e.g. popreg.events.person.died."
    )

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.profile is not Profile.PRODUCTION:
            return self
        weak = [
            name
            for name in ("secret_key", "pin_key")
            if getattr(self, name).get_secret_value() in (DEVELOPMENT_SECRET, "")
            or len(getattr(self, name).get_secret_value()) < 32
        ]
        if weak:
            names = ", ".join(f"POPREG_{name.upper()}" for name in weak)
            raise InsecureSettingsError(
                f"The production profile needs strong secrets: set {names} to at least 32 random characters."
            )
        if self.signing_key is None or not self.signing_key.get_secret_value().strip():
            raise InsecureSettingsError(
                "The production profile needs POPREG_SIGNING_KEY: the PEM of the EC P-256 key that signs answers."
            )
        if not self.cookie_secure:
            raise InsecureSettingsError("The production profile needs POPREG_COOKIE_SECURE=true (HTTPS only).")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
