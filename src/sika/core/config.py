"""Settings, read once from the environment (prefix ``SIKA_``) and ``.env``.

In production Sika refuses to start while any setting is unsafe, and names
every problem in one message so the operator fixes them all in one go.

No secret has a value in the code. Outside production a secret left unset is
generated on first need and kept in the data folder (``.sika/secrets/``, see
``sika.core.local_secrets``), so every process of one checkout agrees on it
and nobody else knows it; production must be given every one.
"""

from __future__ import annotations

import functools
import ipaddress
from enum import StrEnum
from pathlib import Path

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sika.core import local_secrets

PLACEHOLDER_MARKER = "change-me"
"""Example files fill secrets with this; production refuses any secret containing it."""


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class InsecureSettings(Exception):
    """Sika refuses to start in production with insecure settings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Refusing to start in production: " + "; ".join(problems))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIKA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    ENV: Environment = Environment.development
    """`development`, `test` or `production`; production refuses unsafe settings."""
    DEBUG: bool = False
    """Framework debug mode; refused in production."""

    DATABASE_URL: str | None = Field(default=None, validation_alias="DATABASE_URL")
    """An external PostgreSQL; without it Sika runs an embedded one in PGDATA_DIR."""
    PGDATA_DIR: Path = Path(".sika/pgdata")
    """Data folder of the embedded PostgreSQL, reused on the next run. Its parent folder keeps
    what belongs to that database: the first admin key (`admin-key`) and, outside production,
    the generated secrets (`secrets/`)."""
    DB_POOL_SIZE: int = 10
    """Connections each process keeps open to PostgreSQL."""
    DB_POOL_MAX_OVERFLOW: int = 10
    """Extra connections a process may open under load."""
    DB_REQUEST_SLOTS: int = Field(default=8, ge=0)
    """Requests of one API process that may run their database transaction at once; the others
    wait their turn in the process. At most DB_POOL_SIZE (left unset, it follows a smaller pool), so
    the overflow stays free for a request that takes a second connection. 0: no bound."""
    DB_REQUEST_SLOT_WAIT_SECONDS: float = Field(default=30.0, gt=0)
    """How long a request waits for a slot before it is answered 503 `service_busy` (Retry-After)."""

    HOST: str = "127.0.0.1"
    """Address `sika run` serves the API on."""
    PORT: int = 8000
    """Port `sika run` serves the API on."""
    PUBLIC_URL: str = "http://127.0.0.1:8000"
    """How providers and clients reach this Sika (webhook URLs are built from it)."""

    MAX_BODY_BYTES: int = 1024 * 1024
    """Largest accepted request body; larger ones get a 413."""
    CORS_ORIGINS: list[str] = []
    """Browser origins allowed to call the API; `*` is refused in production."""

    RATE_LIMIT_PER_KEY: str = "500/second"
    """Requests allowed per API key or party (a `limits` expression); 429 with Retry-After beyond.
    Sized for a platform, whose one key carries all its traffic (hundreds of requests per
    second): it stops a runaway client, not a busy one. Counted per API process unless
    RATE_LIMIT_STORAGE_URL shares the counts."""
    RATE_LIMIT_PER_ADDRESS: str = "120/minute"
    """Failed authentications (and dashboard sign-in attempts) allowed per client address;
    beyond, that address gets 429 until the window moves on."""
    RATE_LIMIT_WEBHOOKS_PER_PROVIDER: str = "2000/second"
    """Correctly signed webhooks accepted per provider (one bucket per provider route, whatever
    address they come from); never shared with failed logins (a webhook whose signature fails
    counts as a failed authentication of its address). Generous: a provider retrying a backlog
    bursts far above its average, and a refused webhook only comes back later."""
    RATE_LIMIT_SYSTEM_PER_ADDRESS: str = "1200/minute"
    """Requests per client address to `/health`, `/ready` and `/metrics`, counted apart
    from everything else."""
    RATE_LIMIT_STORAGE_URL: str = "memory://"
    """``memory://`` by default; ``redis://host:6379`` to share limits across API processes."""
    TRUSTED_PROXIES: list[IPvAnyNetwork] = []
    """Addresses or CIDRs of the reverse proxies in front of Sika (JSON list). Only a request
    whose peer is one of them has its client address taken from `X-Forwarded-For` (the
    nearest address that is not a trusted proxy); otherwise the peer is the client."""

    IDEMPOTENCY_TTL_SECONDS: int = 24 * 3600
    """How long an Idempotency-Key and its stored answer are kept."""
    REQUIRE_IDEMPOTENCY_KEY: bool = True
    """Refuse a request that moves money (collections, payouts, holds and their captures and
    releases, top-ups, ledger transfers) sent without an Idempotency-Key, with 428
    `idempotency_key_required`: a retry after a lost answer could move the money twice. Turn
    off only for a client that cannot send one yet."""
    IDEMPOTENCY_LEASE_SECONDS: int = 300
    """How long a request that calls a provider holds its Idempotency-Key without an answer
    (well above PROVIDER_TIMEOUT_SECONDS times the providers a collection may try). A retry
    after it, its process presumably dead, gets the state of what the key created."""
    API_KEY_CACHE_SECONDS: float = Field(default=30.0, ge=0)
    """How long an API process keeps a verified API key, and the standing of a party token
    (its party's status and revocations, its minting key), in memory. A revocation or
    suspension through Sika reaches every process at once (LISTEN/NOTIFY) whatever this is;
    it bounds only how long a row changed around Sika (hand-written SQL) may still be
    served. 0 turns it off."""
    WORKER_HEARTBEAT_SECONDS: int = 15
    """How often a worker records that it is alive."""
    WORKER_HEARTBEAT_STALE_SECONDS: int = 90
    """A worker silent for longer makes /ready answer 503."""
    JOBS_STALLED_AFTER_SECONDS: int = 60
    """A running job whose worker has not beaten for this long is presumed dead and run again."""

    PARTY_TOKEN_ISSUER: str = "sika"
    """`iss` of party tokens."""
    PARTY_TOKEN_AUDIENCE: str = "sika-party"
    """`aud` of party tokens."""
    PARTY_TOKEN_MAX_SECONDS: int = 3600
    """Longest lifetime a party token may be given."""
    PARTY_TOKEN_KEYS: dict[str, SecretStr] = {}
    """Signing keys by ``kid`` (HS256, at least 32 bytes): ``PARTY_TOKEN_ACTIVE_KID`` signs,
    all of them verify (rotation). Unset outside production: one key, generated, under
    ``PARTY_TOKEN_ACTIVE_KID``."""
    PARTY_TOKEN_ACTIVE_KID: str = "k1"
    """The ``kid`` of the key that signs new party tokens."""

    DASHBOARD_SESSION_SECRET: SecretStr | None = None
    """Signs the operator dashboard's session cookies (at least 32 characters); changing it
    signs every operator out."""
    DASHBOARD_SESSION_MAX_AGE_SECONDS: int = 8 * 3600
    """How long a dashboard sign-in lasts; the operator then signs in again."""

    SANDBOX_HOST: str = "127.0.0.1"
    """Address the PSP sandbox listens on."""
    SANDBOX_PORT: int = 8100
    """Port the PSP sandbox listens on."""
    SANDBOX_WEBHOOK_TARGET: str | None = None
    """Where the sandbox posts provider webhooks; defaults to this Sika's /v1/webhooks."""
    SANDBOX_APPROVAL_DELAY_SECONDS: float = 2.0
    """How long the simulated customer takes to approve a charge on the phone."""
    SANDBOX_LATENCY_SECONDS: float = 2.0
    """Extra delay of an answer in the ``latency`` scenario (stays under the provider timeout)."""
    SANDBOX_NO_ANSWER_SECONDS: float = 20.0
    """Delay of an answer in the ``no_answer`` scenario (above PROVIDER_TIMEOUT_SECONDS)."""
    SANDBOX_WEBHOOK_LATE_SECONDS: float = 10.0
    """Delay of a webhook in the ``webhook_late`` scenario."""

    PAYSTACK_BASE_URL: str = ""
    """Paystack API base URL; unset, the sandbox's, wherever SANDBOX_HOST and SANDBOX_PORT put it."""
    PAYSTACK_SECRET_KEY: SecretStr | None = None
    """Paystack secret key; also signs Paystack webhooks."""
    FEDAPAY_BASE_URL: str = ""
    """FedaPay API base URL; unset, the sandbox's, wherever SANDBOX_HOST and SANDBOX_PORT put it."""
    FEDAPAY_SECRET_KEY: SecretStr | None = None
    """FedaPay secret API key."""
    FEDAPAY_WEBHOOK_SECRET: SecretStr | None = None
    """FedaPay webhook signing secret."""
    STRIPE_BASE_URL: str = ""
    """Stripe API base URL; unset, the sandbox's, wherever SANDBOX_HOST and SANDBOX_PORT put it."""
    STRIPE_SECRET_KEY: SecretStr | None = None
    """Stripe secret key."""
    STRIPE_WEBHOOK_SECRET: SecretStr | None = None
    """Stripe webhook signing secret."""
    PROVIDER_TIMEOUT_SECONDS: float = 10.0
    """Longest wait for a provider's answer (read, write); past it the outcome is unknown."""
    PROVIDER_CONNECT_TIMEOUT_SECONDS: float = 3.0
    """Longest wait to open a connection; past it the provider is unavailable (nothing was sent)."""
    PROVIDER_ROUTES: dict[str, list[str]] = {
        "XOF:mobile_money": ["paystack", "fedapay"],
        "XOF:card": ["stripe"],
        "GHS:mobile_money": ["paystack"],
        "EUR:card": ["stripe"],
        "USD:card": ["stripe"],
    }
    """Collection providers in order of preference per ``CURRENCY:method``; the next one is
    tried only when the previous one is unavailable."""
    PROVIDER_CIRCUIT_FAILURE_THRESHOLD: int = 5
    """Consecutive unavailable or unanswered calls that open a provider's circuit."""
    PROVIDER_CIRCUIT_OPEN_SECONDS: float = 30.0
    """How long an open circuit skips its provider before one trial call is let through."""

    WEBHOOK_TOLERANCE_SECONDS: int = 300
    """Oldest signed webhook timestamp accepted (FedaPay, Stripe)."""
    WEBHOOK_RETRY_DELAYS_SECONDS: list[int] = [10, 30, 90, 270, 810]
    """Delays between attempts at processing a stored webhook event."""
    WEBHOOK_EVENTS_PER_JOB: int = Field(default=50, ge=1)
    """Most webhook events one processing job handles: its own, then events whose jobs are due,
    each in its own transaction (fewer job round trips under a backlog)."""
    RECONCILE_AFTER_SECONDS: int = 300
    """A collection or payout not final after this long is checked with its provider."""
    RECONCILE_GIVE_UP_AFTER_SECONDS: int = 7 * 24 * 3600
    """A collection or payout that has not moved for this long is alerted once and no longer
    checked every minute; an operator re-queues it with `POST /v1/collections/{id}/requeue`
    (or `/v1/payouts/{id}/requeue`)."""
    PAYOUT_PROVIDERS: dict[str, str] = {"XOF": "paystack", "GHS": "paystack"}
    """The provider that pays out each currency to mobile money (payouts do not fail over)."""

    PROOF_FILES_DIR: Path | None = None
    """Where proof-of-delivery photos are kept, one file per sha256 of its bytes, never
    overwritten; unset, `proofs/` in the data folder beside the embedded PostgreSQL's."""
    PROOF_MAX_FILE_BYTES: int = Field(default=10 * 1024 * 1024, gt=0)
    """Largest proof photo accepted, in bytes (10 MiB); a larger one gets a 413."""
    PROOF_MAX_FILES: int = Field(default=5, gt=0)
    """Most photos one proof upload may carry."""
    PROOF_MAX_PIXELS: int = Field(default=50_000_000, gt=0)
    """Most pixels (width × height) a proof photo may declare; more is refused before decoding
    (a decompression bomb)."""
    PROOF_CLOCK_SKEW_SECONDS: int = Field(default=300, ge=0)
    """How far in the future a photo's time may be before its time check fails (clocks disagree)."""

    OUTBOUND_SECRETS_KEY: SecretStr | None = None
    """Encrypts the signing secrets of platforms' webhook endpoints at rest (any string of at
    least 32 characters): a dump of the database alone cannot sign a webhook. Changing it makes
    every stored secret unreadable, so each endpoint's secret must then be rotated."""
    OUTBOUND_RETRY_DELAYS_SECONDS: list[float] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    """When each attempt at delivering an event to a platform's endpoint is made, counted from
    the previous one; after the last the delivery is `failed` (about 31 hours in all)."""
    OUTBOUND_DISABLE_AFTER_SECONDS: float = 5 * 24 * 3600
    """An endpoint whose deliveries have all failed for this long is disabled, with an alert."""
    OUTBOUND_CONNECT_TIMEOUT_SECONDS: float = 3.0
    """Longest wait to open a connection to a platform's endpoint."""
    OUTBOUND_TIMEOUT_SECONDS: float = 10.0
    """Longest wait for a platform's endpoint to answer a delivery, all in all."""
    OUTBOUND_CONCURRENCY: int = 16
    """Deliveries a worker sends at once (events of one object are never sent at once)."""
    OUTBOUND_SECRET_OVERLAP_SECONDS: int = 24 * 3600
    """After a rotation, how long deliveries carry the old secret's signature beside the new one."""

    ALERT_WEBHOOK_URL: str | None = None
    """Where critical alerts are posted for operators, signed like platforms' webhooks with
    ALERT_WEBHOOK_SECRET (`whsec_…`); unset, none is posted."""
    ALERT_WEBHOOK_SECRET: SecretStr | None = None
    """The `whsec_…` secret that signs the operators' alert webhook."""
    ALERT_EMAIL_TO: list[str] = []
    """Addresses that critical alerts are emailed to; empty, none is sent."""
    ALERT_EMAIL_FROM: str = "sika@localhost"
    """The sender of alert emails."""
    SMTP_HOST: str = "localhost"
    """The SMTP server alert emails go through."""
    SMTP_PORT: int = 25
    """Its port (587 with SMTP_STARTTLS, 465 with SMTP_TLS)."""
    SMTP_USERNAME: str | None = None
    """SMTP login, when the server wants one."""
    SMTP_PASSWORD: SecretStr | None = None
    """SMTP password, when the server wants one."""
    SMTP_STARTTLS: bool = False
    """Upgrade the SMTP connection with STARTTLS."""
    SMTP_TLS: bool = False
    """Connect to the SMTP server over TLS from the start."""
    SMTP_TIMEOUT_SECONDS: float = 10.0
    """Longest wait for the SMTP server."""
    SENTRY_DSN: SecretStr | None = None
    """Sentry project DSN: critical alerts are sent there too (needs `pip install sika[sentry]`)."""
    ALERT_NOTIFY_EVERY_SECONDS: int = 3600
    """Each kind of alert is sent to the operators at most once per this period."""
    ALERT_JOB_BACKLOG: int = 1000
    """Jobs waiting to run beyond which the operators are told."""
    ALERT_HEARTBEAT_STALE_SECONDS: int = 300
    """A worker silent for longer is reported to the operators."""

    INSTALMENT_GRACE_DAYS: int = Field(default=3, ge=0, le=365)
    """Days after its due date an unpaid instalment becomes `overdue` (`instalment.overdue`)."""
    INSTALMENT_DUE_SOON_DAYS: list[int] = Field(default=[7, 2], max_length=10)
    """Days before its due date a payer is reminded (`instalment.due_soon`), once per threshold;
    in the environment a JSON list such as `[7, 2]`."""

    @property
    def local_dir(self) -> Path:
        """The data folder beside the embedded PostgreSQL's (``.sika/``): the first admin
        key and, outside production, the generated secrets."""
        return self.PGDATA_DIR.parent

    @property
    def proof_files_dir(self) -> Path:
        """Where proof photos are kept: PROOF_FILES_DIR, or ``proofs/`` in the data folder."""
        return self.PROOF_FILES_DIR or self.local_dir / "proofs"

    @property
    def proof_upload_bytes(self) -> int:
        """The body size a proof upload may reach: its files and the multipart framing around them."""
        return self.PROOF_MAX_FILES * (self.PROOF_MAX_FILE_BYTES + 64 * 1024)

    @model_validator(mode="after")
    def _slots_within_the_pool(self) -> Settings:
        if "DB_REQUEST_SLOTS" not in self.model_fields_set:
            self.DB_REQUEST_SLOTS = min(self.DB_REQUEST_SLOTS, self.DB_POOL_SIZE)
        elif self.DB_REQUEST_SLOTS > self.DB_POOL_SIZE:
            raise ValueError(
                f"SIKA_DB_REQUEST_SLOTS ({self.DB_REQUEST_SLOTS}) exceeds SIKA_DB_POOL_SIZE ({self.DB_POOL_SIZE}): "
                "each slot runs a transaction on one of the pool's connections, and the overflow is kept "
                "for requests that take a second one. Raise the pool size or lower the slots."
            )
        return self

    @model_validator(mode="after")
    def _point_unset_providers_at_the_sandbox(self) -> Settings:
        """A provider URL left unset follows the sandbox: two Sikas on one machine, each
        with its own SANDBOX_PORT, must each reach their own sandbox."""
        for name, path in SANDBOX_PROVIDER_PATHS.items():
            if not getattr(self, name):
                setattr(self, name, f"{sandbox_url(self.SANDBOX_HOST, self.SANDBOX_PORT)}/{path}")
        return self

    @model_validator(mode="after")
    def _fill_local_secrets(self) -> Settings:
        """Outside production, every secret left unset comes from the data folder."""
        if self.ENV is Environment.production:
            return self
        for name in sorted(GENERATED_SECRETS.keys() - self.model_fields_set):
            value = SecretStr(
                local_secrets.load_or_create(self.local_dir, name.lower(), prefix=GENERATED_SECRETS[name])
            )
            if name == "PARTY_TOKEN_KEYS":
                self.PARTY_TOKEN_KEYS = {self.PARTY_TOKEN_ACTIVE_KID: value}
            else:
                setattr(self, name, value)
        return self

    def production_problems(self) -> list[str]:
        """Every reason this configuration is unsafe for production."""
        problems: list[str] = []
        if self.DEBUG:
            problems.append("SIKA_DEBUG is on")
        if "*" in self.CORS_ORIGINS:
            problems.append("SIKA_CORS_ORIGINS allows '*'")
        if self.DATABASE_URL is None:
            problems.append("DATABASE_URL is missing (the embedded PostgreSQL is for development)")
        secrets: dict[str, SecretStr | None] = {
            "SIKA_PAYSTACK_SECRET_KEY": self.PAYSTACK_SECRET_KEY,
            "SIKA_FEDAPAY_SECRET_KEY": self.FEDAPAY_SECRET_KEY,
            "SIKA_FEDAPAY_WEBHOOK_SECRET": self.FEDAPAY_WEBHOOK_SECRET,
            "SIKA_STRIPE_SECRET_KEY": self.STRIPE_SECRET_KEY,
            "SIKA_STRIPE_WEBHOOK_SECRET": self.STRIPE_WEBHOOK_SECRET,
        }
        for name, value in secrets.items():
            if value is None or not value.get_secret_value():
                problems.append(f"{name} is missing")
            elif _is_public(value.get_secret_value()):
                problems.append(f"{name} is left at its sandbox default")
        if not self.PARTY_TOKEN_KEYS:
            problems.append("SIKA_PARTY_TOKEN_KEYS is empty")
        for kid, key in self.PARTY_TOKEN_KEYS.items():
            if _is_public(key.get_secret_value()):
                problems.append(f"SIKA_PARTY_TOKEN_KEYS[{kid}] is left at its default")
            elif len(key.get_secret_value()) < 32:
                problems.append(f"SIKA_PARTY_TOKEN_KEYS[{kid}] is shorter than 32 characters")
        if self.PARTY_TOKEN_ACTIVE_KID not in self.PARTY_TOKEN_KEYS:
            problems.append("SIKA_PARTY_TOKEN_ACTIVE_KID names no key in SIKA_PARTY_TOKEN_KEYS")
        if self.ALERT_WEBHOOK_URL and not (self.ALERT_WEBHOOK_SECRET and self.ALERT_WEBHOOK_SECRET.get_secret_value()):
            problems.append("SIKA_ALERT_WEBHOOK_URL is set without SIKA_ALERT_WEBHOOK_SECRET to sign it")
        outbound_key = self.OUTBOUND_SECRETS_KEY.get_secret_value() if self.OUTBOUND_SECRETS_KEY else ""
        if len(outbound_key) < 32 or _is_public(outbound_key):
            problems.append("SIKA_OUTBOUND_SECRETS_KEY is missing, left at its default or shorter than 32 characters")
        dashboard_secret = self.DASHBOARD_SESSION_SECRET.get_secret_value() if self.DASHBOARD_SESSION_SECRET else ""
        if not dashboard_secret:
            problems.append("SIKA_DASHBOARD_SESSION_SECRET is missing")
        elif _is_public(dashboard_secret):
            problems.append("SIKA_DASHBOARD_SESSION_SECRET is left at its default")
        elif len(dashboard_secret) < 32:
            problems.append("SIKA_DASHBOARD_SESSION_SECRET is shorter than 32 characters")
        return problems

    def check_safe_to_start(self) -> None:
        if self.ENV is Environment.production:
            problems = self.production_problems()
            if problems:
                raise InsecureSettings(problems)


GENERATED_SECRETS: dict[str, str] = {
    "PARTY_TOKEN_KEYS": "",
    "DASHBOARD_SESSION_SECRET": "",
    "PAYSTACK_SECRET_KEY": "sk_test_",
    "FEDAPAY_SECRET_KEY": "sk_sandbox_",
    "FEDAPAY_WEBHOOK_SECRET": "wh_sandbox_",
    "STRIPE_SECRET_KEY": "sk_test_",
    "STRIPE_WEBHOOK_SECRET": "whsec_",
    "OUTBOUND_SECRETS_KEY": "",
}
"""The secrets generated outside production when unset, with the prefix their provider's
test keys carry (so a log line shows which kind of key it is)."""


SANDBOX_PROVIDER_PATHS: dict[str, str] = {
    "PAYSTACK_BASE_URL": "paystack",
    "FEDAPAY_BASE_URL": "fedapay",
    "STRIPE_BASE_URL": "stripe",
}
"""Each provider's base URL setting, and where that provider lives in the sandbox."""


def sandbox_url(host: str, port: int) -> str:
    """How a process on this machine reaches a sandbox listening on ``host:port``
    (one listening on every address is reached on loopback)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


def _is_public(secret: str) -> bool:
    return secret in _PUBLISHED_SECRETS or PLACEHOLDER_MARKER in secret


_PUBLISHED_SECRETS = {
    "sk_test_sandbox",
    "sk_sandbox_fedapay",
    "wh_sandbox_fedapay",
    "sk_test_stripe_sandbox",
    "whsec_sandbox_stripe",
}
"""Values earlier versions shipped as defaults: public, so never accepted in production."""


def reference_markdown() -> str:
    """The configuration reference (docs/configuration.md), generated from this class."""
    lines = [
        "# Configuration",
        "",
        "Generated by `sika docs config` from `sika.core.config.Settings`; do not edit by hand.",
        "Every setting is read from the environment with the `SIKA_` prefix (or a `.env` file);",
        "`DATABASE_URL` has none. Lists and maps are JSON.",
        "",
        "| setting | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        env = field.validation_alias if isinstance(field.validation_alias, str) else f"SIKA_{name}"
        default = field.default
        if name in SANDBOX_PROVIDER_PATHS:
            shown = f"*(the sandbox's: `http://SANDBOX_HOST:SANDBOX_PORT/{SANDBOX_PROVIDER_PATHS[name]}`)*"
        elif name in GENERATED_SECRETS:
            shown = f"*(outside production: generated in `{local_secrets.SECRETS_FOLDER}/` beside `SIKA_PGDATA_DIR`)*"
        elif default is None:
            shown = "*(none)*"
        else:
            shown = f"`{default.value if isinstance(default, StrEnum) else default}`"
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{env}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


@functools.cache
def get_settings() -> Settings:
    return Settings()
