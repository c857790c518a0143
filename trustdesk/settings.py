"""Settings: one class per section of ``trustdesk.toml``, overridable by ``TRUSTDESK_*`` variables.

The file is named by ``--config`` or ``TRUSTDESK_CONFIG``; the database by
``TRUSTDESK_DATABASE_URL`` (default: an embedded SQLite file ``./trustdesk.db``). Environment
variables win over the file so that one file can serve several deployments
(``TRUSTDESK_PROVIDER__NAME=...``).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> Any:
    """Prefixes from the file's strings, refusing host bits (a typo that would widen them)."""
    if isinstance(value, list):
        return [ipaddress.ip_network(str(item), strict=True) for item in value]
    return value


class ProviderSettings(BaseModel):
    """Who we are: the provider whose customers the complaints are about."""

    name: str = Field("Example Net", description="Provider name used in notices and the console")
    abuse_mailbox: str = Field("abuse@example.net", description="Address complaints are sent to")
    networks: list[IPNetwork] = Field(
        default_factory=list,
        description="Address space the provider announces; complaints about other addresses are "
        "answered as not ours (SPEC §2, seed 000)",
    )
    trusted_relays: list[str] = Field(
        default_factory=list,
        description="Our own outbound smarthosts: a Received hop they recorded is believed, so the "
        "origin is the customer behind them (issue 2, Received walk)",
    )

    _parse_networks = field_validator("networks", mode="before")(_networks)

    @field_validator("trusted_relays")
    @classmethod
    def _normalise_relays(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(item.strip())) for item in value]

    def owns(self, address: str) -> bool:
        """Whether ``address`` lies in the provider's announced networks."""
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in self.networks)


class AttributionSettings(BaseModel):
    clock_skew_seconds: int = Field(
        0,
        ge=0,
        le=3600,
        description="How far a complaint's timestamp may be off the true time. Every subscriber "
        "who held the address within this margin becomes a candidate, and a subscriber is named "
        "only when no other could have held it.",
    )


class IntakeSettings(BaseModel):
    max_document_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Largest complaint document accepted, in bytes"
    )


class SmtpSettings(BaseModel):
    """The relay that delivers notices to subscribers and complainants (cases.mailer)."""

    host: str | None = Field(
        None, description="SMTP relay that delivers notices; unset means notices are not sent"
    )
    port: int = Field(25, ge=1, le=65535, description="Port of the SMTP relay")
    starttls: bool = Field(
        False, description="Upgrade the connection with STARTTLS before logging in or sending"
    )
    username: str | None = Field(
        None, description="Login name at the relay; unset means no login (AUTH)"
    )
    password: SecretStr | None = Field(
        None, description="Password for username; kept out of logs and error messages"
    )
    from_address: str = Field(
        "abuse@example.net", description="From: of every notice; replies come back to it"
    )
    timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for the relay before the delivery is retried"
    )
    claim_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker holds a notice it is handing to the relay; if it dies "
        "meanwhile, another worker sends it again (same Message-ID) after this. Keep it well "
        "above timeout, or a slow relay gets the notice twice",
    )

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpSettings:
        """A login needs both halves; one alone is a configuration mistake, not "no login"."""
        if (self.username is None) != (self.password is None):
            raise ValueError("smtp.username and smtp.password must be given together")
        return self


class WebSettings(BaseModel):
    """The console, the public complaint forms and the API (web/, access/)."""

    session_idle_minutes: int = Field(
        120, gt=0, description="A console session unused this long must log in again"
    )
    session_max_hours: int = Field(
        12, gt=0, description="A console session ends this long after login"
    )
    login_max_failures: int = Field(
        5,
        gt=0,
        description="Failed logins of one user name (existing or not) within "
        "login_lockout_minutes, since its last success, after which the name is locked",
    )
    login_lockout_minutes: int = Field(
        15,
        gt=0,
        le=60,
        description="The window those failures are counted in, and so how long a lock lasts; "
        "at most the hour that counted events are kept",
    )
    login_failures_per_client: int = Field(
        30, gt=0, description="Failed logins per client address per hour, over all accounts"
    )
    form_submissions_per_client: int = Field(
        20, gt=0, description="Public complaint forms one client address may submit per hour"
    )
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest file a public form accepts (documents, .eml)"
    )
    concurrent_requests: int = Field(
        8,
        gt=0,
        description="Requests that touch the database a web worker serves at once, each on a "
        "connection it keeps open; more wait their turn. A few per core is the most Python "
        "gains from (bench/fraud.py); more only contend, and beyond the pool each would open "
        "and close a PostgreSQL connection",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark cookies Secure: 'auto' does when the request came over HTTPS (behind a "
        "proxy listed in trusted_proxies, as its X-Forwarded-Proto says)",
    )
    trusted_proxies: list[IPNetwork] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR prefixes) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed: the client is the right-most address of the chain that "
        "is not one of them. Empty (the default) believes no such header: the client is the "
        "connection's peer. Rate limits and the login lockout count that address",
    )
    smtp_max_message_bytes: int = Field(
        25 * 1024 * 1024, gt=0, description="Largest mail the abuse mailbox listener accepts"
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where members and complainants reach this server: the base of the links "
        "mailed to them (a member's DNS blocking page)",
    )
    member_link_days: int = Field(7, gt=0, description="Days a link mailed to a member stays valid")

    _parse_networks = field_validator("trusted_proxies", mode="before")(_networks)


class NetworkSettings(BaseModel):
    """DNS blocking exports and the resolvers they feed (seed 002 §25-2, §28; network.export)."""

    cc_walled_garden: str | None = Field(
        None,
        description="Name a blocked C&C domain is rewritten to (RPZ local data, e.g. "
        "'blocked.example.net'); unset answers NXDOMAIN",
    )
    csam_block_page: str | None = Field(
        None,
        description="Name a CSAM-listed host is rewritten to, serving the block page (seed 002 "
        "§28); unset answers NXDOMAIN",
    )
    zone_ttl: int = Field(300, ge=0, le=86400, description="TTL of the records in the RPZ files")
    soa_contact: str = Field(
        "hostmaster.invalid", description="RNAME of the RPZ zones' SOA record (a mailbox as a name)"
    )
    client_networks: list[IPNetwork] = Field(
        default_factory=list,
        description="Networks whose clients the resolvers serve and block for; unset means the "
        "provider's networks. Opt-out addresses outside them are never exported, so the opt-out "
        "file cannot open the resolver to strangers.",
    )
    reload_command: list[str] = Field(
        default_factory=list,
        description="Command run (without a shell) after an export changed a file, e.g. "
        "['unbound-control', 'reload'] or ['rndc', 'reload']; empty runs nothing",
    )
    reload_timeout: float = Field(60.0, gt=0, description="Seconds the reload command may take")

    _parse_networks = field_validator("client_networks", mode="before")(_networks)


DEVELOPMENT_FRAUD_KEY = "development-only-fraud-hash-key"


class FraudSettings(BaseModel):
    """The fraud-scoring service (seed 004; trustdesk.fraud)."""

    hash_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_FRAUD_KEY),
        description="Secret of the keyed hashes (HMAC-SHA256) under which normalised e-mails, "
        "phones, addresses, devices, IPs and card tokens are stored for known-fraud matching "
        "and velocity. Changing it makes every stored hash unmatchable. Refused at its default "
        "outside development.",
    )
    velocity_count_limit: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Velocity counts read at most this many of a value's newest orders in 30 "
        "days (at every merchant): a value shared by very many orders (a carrier's address) "
        "costs a score no more than this; below it every count is exact, at it the counts and "
        "the other merchants seen are those of the newest orders",
    )
    max_order_bytes: int = Field(
        1_048_576,
        gt=0,
        description="Largest order body POST /api/v1/fraud/orders reads (bytes); a larger one is "
        "refused with 413 before it is read whole. The shared sample order is 1 kB; 1,000 "
        "items, the most an order may list, are about 150 kB",
    )
    score_connections: int = Field(
        2,
        gt=0,
        description="On PostgreSQL, database connections each web worker keeps for scores, "
        "whose statements wait on the worker's event loop: scores at once a worker waits for the "
        "database on. More cost PostgreSQL more CPU a score (each connection a backend whose "
        "caches go cold in turn) and gain nothing once the worker's CPU is the limit",
    )


class ProvisioningSettings(BaseModel):
    """Where enforcement actions (suspend, resume, terminate, takedown) are handed over to the
    provider's provisioning (cases.provisioning). Neither set: actions are kept for hand work."""

    command: list[str] | None = Field(
        None,
        description="argv of a program that carries out one action: it gets the action as JSON on "
        "stdin; exit status 0 means done, anything else a failure tried again later",
    )
    webhook_url: str | None = Field(
        None,
        description="http(s) URL that receives each action as a JSON POST; a 2xx answer means "
        "done, anything else (or no answer in time) a failure tried again later",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="When set, each POST carries X-Trustdesk-Signature: sha256=<HMAC-SHA256 of "
        "the body with this secret> so the receiver can tell it came from trustdesk",
    )
    timeout: float = Field(
        30.0, gt=0, description="Seconds one hand-over may take before it counts as failed"
    )
    claim_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker holds an action it is handing over; if it dies "
        "meanwhile, another worker hands it over again (same idempotency key) after this. Keep "
        "it well above timeout",
    )
    max_attempts: int = Field(
        8,
        ge=1,
        description="Attempts before an action is marked failed; a failed action stays visible "
        "(trustdesk actions list) and is handed over again only by `trustdesk actions retry`",
    )
    backoff_seconds: float = Field(
        60.0, gt=0, description="Wait before the second attempt; doubled after each failure"
    )
    max_backoff_seconds: float = Field(
        6 * 3600.0, gt=0, description="Longest wait between two attempts"
    )

    @model_validator(mode="after")
    def _one_target(self) -> ProvisioningSettings:
        if self.command is not None and self.webhook_url is not None:
            raise ValueError("provisioning: set command or webhook_url, not both")
        if self.command is not None and not self.command:
            raise ValueError("provisioning.command is an argv list and cannot be empty")
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("provisioning.webhook_url must be an http:// or https:// URL")
        return self

    @property
    def configured(self) -> bool:
        return self.command is not None or self.webhook_url is not None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRUSTDESK_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "production"] = Field(
        "production",
        description="production (the default) refuses the shipped development secrets "
        "(fraud.hash_key); development accepts them, for a trial such as the demo's "
        "configuration (trustdesk/demo/trustdesk.toml) and the tests",
    )
    database_url: str = Field(
        "sqlite:///./trustdesk.db", description="SQLAlchemy URL; PostgreSQL in production"
    )
    provider: ProviderSettings = Field(default_factory=ProviderSettings)  # type: ignore[arg-type]
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)  # type: ignore[arg-type]
    intake: IntakeSettings = Field(default_factory=IntakeSettings)  # type: ignore[arg-type]
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    web: WebSettings = Field(default_factory=WebSettings)  # type: ignore[arg-type]
    network: NetworkSettings = Field(default_factory=NetworkSettings)  # type: ignore[arg-type]
    fraud: FraudSettings = Field(default_factory=FraudSettings)  # type: ignore[arg-type]
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)  # type: ignore[arg-type]
    policy_file: str | None = Field(
        None,
        description="policy.toml with the deadlines and amounts cases run under; unset means "
        "the seeds' defaults (cases.policy)",
    )

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, url: str) -> str:
        """Plain ``postgresql://`` URLs use psycopg 3, the driver trustdesk ships with."""
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Settings:
        """A deployment must set its own secrets: the shipped ones are public. Production is
        what a start is unless it says otherwise, so a forgotten key stops the start instead of
        hashing every buyer's e-mail and card under a key anyone can read."""
        if self.environment == "development":
            return self
        key = self.fraud.hash_key.get_secret_value()
        if key == DEVELOPMENT_FRAUD_KEY:
            raise ValueError(
                "fraud.hash_key is the built-in development key, which is public: set a secret "
                "of your own (at least 32 characters) in TRUSTDESK_FRAUD__HASH_KEY or [fraud] "
                "hash_key, or for a trial set TRUSTDESK_ENVIRONMENT=development (environment = "
                '"development", as the demo\'s trustdesk/demo/trustdesk.toml does)'
            )
        if len(key) < 32:
            raise ValueError(
                "fraud.hash_key (TRUSTDESK_FRAUD__HASH_KEY) must be at least 32 characters"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then what the config file gave as init arguments.
        return (env_settings, init_settings)


class ConfigError(ValueError):
    """The configuration file cannot be read or is invalid."""


def load_settings(config_path: str | Path | None = None) -> Settings:
    """Read ``config_path`` (or ``$TRUSTDESK_CONFIG``) if any, then the environment."""
    path = config_path or os.environ.get("TRUSTDESK_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(_readable(error) for error in exc.errors())
        raise ConfigError(f"invalid configuration {path or '(defaults)'}: {problems}") from exc


def _readable(error: ErrorDetails) -> str:
    """One of pydantic's errors as a sentence: where, then what (without its "Value error, ")."""
    where = ".".join(str(part) for part in error["loc"])
    what = error["msg"].removeprefix("Value error, ")
    return f"{where}: {what}" if where else what
