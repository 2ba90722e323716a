"""One Settings object, read from the environment (and a ``.env`` file when present)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "fangfanpin-local-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./fangfanpin.sqlite3"
    """``postgresql+asyncpg://user@host/db`` for PostgreSQL; an SQLite file by default."""
    read_database_url: str | None = None
    """A streaming replica for ledgers and audit reads (which may lag by a moment); writes, and
    reads that must see their own writes, stay on ``database_url``."""
    database_migration_url: str | None = None
    """The schema owner's URL, used by ``fangfanpin migrate`` only; the service itself connects
    with ``database_url`` as a role that owns nothing (PostgreSQL). Unset: ``database_url``."""
    database_app_role: str | None = None
    """After migrating PostgreSQL, grant this role (the one in ``database_url``) reads and
    writes, but only SELECT and INSERT on the append-only tables."""
    database_pool_size: int = Field(default=10, ge=0, le=200)
    """Connections kept open per process (0: none kept, a new one for each request)."""
    database_echo: bool = False

    jwt_secret: str = DEV_SECRET
    """HS256 secret for bearer tokens without a key id; set a long random value in production.
    Once ``jwt_keys`` is set it only verifies tokens minted before (see ``jwt_keys``)."""
    jwt_keys: str | None = None
    """HS256 keys by id, ``kid:secret`` comma-separated: every listed key verifies the tokens
    naming it in their header, the last one signs. Rotation: add a new key last, wait out the
    tokens' lifetime, drop the old one. Tokens without a key id still verify with
    ``jwt_secret``; give it a new random value to retire them."""
    jwt_issuer: str = "fangfanpin"
    jwt_audience: str = "fangfanpin-api"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    deployment_area: str = Field(default="220281", pattern=r"^\d{2,12}$")
    """The county-level city this deployment serves (its code prefix). A token's area must
    lie within it: a correctly signed token for another city, or one with an empty area, is
    refused (401)."""
    jwt_jwks_url: str | None = None
    """An external identity provider's JWKS: RS256 and EdDSA tokens signed by its keys are
    accepted beside the local HS256 ones (same issuer and audience checks unless
    ``jwt_jwks_issuer`` names the provider's issuer)."""
    jwt_jwks_issuer: str | None = None
    oidc_authorization_endpoint: str | None = None
    """The identity provider's authorization endpoint: the console signs in with OpenID
    Connect's authorization code flow and PKCE there (its tokens verified by ``jwt_jwks_url``)."""
    oidc_token_endpoint: str | None = None
    """Where the console exchanges the code for a token (the console's content security
    policy lets it connect there, and nowhere else off its origin)."""
    oidc_client_id: str = "fangfanpin-console"
    oidc_scope: str = "openid profile"
    jwt_jwks_cache_seconds: int = Field(default=600, ge=60, le=86400)

    field_keys: str = "dev1:ZmFuZ2ZhbnBpbi1sb2NhbC1kZXYtZmllbGQta2V5ISE="
    """AES-256 keys for personal data at rest, ``kid:base64`` comma-separated; every one
    decrypts, the last encrypts. Set your own; add a new one last to rotate."""
    blind_index_key: str = "fangfanpin-local-blind-index-key"
    """HMAC key for ID-number digests (the registry's exact look-up, and the trail's digests
    of the members a form covers). Rotate by listing a new key in ``blind_index_keys``; empty
    once every digest it made has been re-keyed (app.core.blind)."""
    blind_index_keys: str = ""
    """Newer blind-index keys, ``kid:secret`` comma-separated: the last one writes, every one
    (and ``blind_index_key``) still finds. ``fangfanpin rekey-blind-index`` moves the rows."""

    audit_signing_key: str = "ZmFuZ2ZhbnBpbi1sb2NhbC1kZXYtYXVkaXQta2V5ISE="
    """Base64 of the 32-byte Ed25519 seed that signs the audit log's checkpoints. Set your
    own and publish its public key (GET /api/v1/audit/public-key) to auditors."""
    audit_previous_public_keys: str = ""
    """Base64 public keys of earlier signing keys, comma-separated: after a rotation (a new
    ``audit_signing_key``), the checkpoints those keys signed stay verifiable, since every
    checkpoint records its key id and bundles carry every key by id."""
    audit_origin: str = "fangfanpin"
    """Names this log in every checkpoint (one per deployment, e.g. ``jiaohe.fangfanpin``)."""
    audit_checkpoint_interval_seconds: float = Field(default=3600.0, gt=0)
    """The worker signs a checkpoint this often when the log has grown."""

    idempotency_ttl_hours: int = Field(default=24, ge=24)

    max_page_size: int = 500
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest request body (413 beyond it); uploads have their own limit."""
    max_upload_bytes: int = Field(default=64 << 20, ge=1024)
    """Largest department data upload."""

    metrics_token: str | None = None
    """The bearer token Prometheus presents to scrape ``/metrics``. Unset, ``/metrics`` is not
    served (404), except in a demonstration: the metrics are not the public's."""
    opentelemetry: bool = False
    """FastAPI's own OpenTelemetry spans and metrics, for a deployment that installs an
    OpenTelemetry SDK and configures its providers (``opentelemetry-instrument``). Off, no
    request asks whether a provider is configured (3% of a read's instructions)."""
    rate_limits: bool = True
    """429 with Retry-After past the limits below, counted per process (``app.core.ratelimit``);
    the test suite and the benchmarks turn them off."""
    rate_intake_per_minute: int = Field(default=120, ge=1)
    """12317 self-declarations per client address."""
    rate_auth_failures_per_minute: int = Field(default=30, ge=1)
    """Failed authentications (401) per client address before it is slowed."""
    rate_writes_per_minute: int = Field(default=1200, ge=1)
    """Writes (POST, PATCH) per user."""
    case_writes_at_once: int = Field(default=8, ge=0, le=1000)
    """Case writes (``POST`` under ``/api/v1/cases``, and 12317's self-declarations) a process
    runs at once; the others wait their turn, first come first served (``app.core.turns``).
    Beyond a few, more at once only interleave on the database and the event loop: at 32
    clients eight at once cut the p99. 0: no limit."""

    cors_origins: str = ""
    """Frontend origins allowed to call the API from a browser, comma-separated
    (``https://village.jiaohe.example,https://city.jiaohe.example``); none by default."""
    hsts_seconds: int = Field(default=0, ge=0)
    """``Strict-Transport-Security`` max-age; set it where the service is served over TLS."""

    demo: bool = Field(default=False, validation_alias=AliasChoices("FANGFANPIN_DEMO", "demo"))
    """``FANGFANPIN_DEMO=1``: a demonstration (``make run``). The development secrets, the demo
    clock and the demo token endpoint are allowed; without it ``serve`` and ``worker`` refuse
    to start on any development or placeholder secret (``app.startup``)."""
    demo_clock: bool = False
    """Let an administrator move the service's clock forward (POST /api/v1/demo/clock), so a
    demonstration can pass a notice period. Never in production; ``make run`` turns it on."""

    embedded_worker: bool = False
    """Run the timer worker inside the API process (``make run``); production runs
    ``fangfanpin worker`` processes instead."""
    worker_interval_seconds: float = Field(default=5.0, gt=0, le=3600)

    gc_freeze: bool = True
    """Once started, keep what the process built to serve (routes, the workflows' machines,
    compiled statements: some 200,000 objects) out of the garbage collector's full passes
    (``gc.freeze``). A full pass over that heap took 100–135 ms, during which no request moves,
    and the inbox's pages set one off about every twentieth request. Objects made afterwards
    are collected as before. Off only to study the collector."""
    gc_young_threshold: int = Field(default=20_000, ge=0)
    """Once started, the collector's young generation is collected after this many new objects
    (``gc.set_threshold``; Python's own is 700); 0 keeps Python's. At 32 writes at once a
    request lives some 60 ms, and with Python's threshold a young pass came every 10 ms: the
    requests' objects outlived two passes, reached the old generation and set off a full pass
    of 16-26 ms about once a second, every request in flight stopped meanwhile, and the
    collector took 7-9% of the process's CPU. With 20,000 a request's objects are gone before
    a young pass sees them, and the collector's share is about 0.1% (``bench/RESULTS.md``)."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
