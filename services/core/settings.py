"""The one place configuration comes from: environment variables, read by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SESSION_SECRET_CHARS = 32
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "secret", "password", "placeholder", "xxx", "todo"})


class Settings(BaseSettings):
    """Every setting of every service. Defaults point at the project's own local Kafka and PostgreSQL."""

    # hide_input_in_errors: a setting refused at start-up must not print the secret it was given.
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, hide_input_in_errors=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers (comma-separated)."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client connects: SASL_SSL (SCRAM over TLS) or SSL (mTLS) in a cluster; "
        "PLAINTEXT for the local broker.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism for SASL_SSL/SASL_PLAINTEXT."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user (the role's KafkaUser).")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password of that user.")
    kafka_ssl_ca_file: str | None = Field(
        None, description="CA bundle (PEM) the broker's certificate is checked against; unset: system CAs."
    )
    kafka_ssl_cert_file: str | None = Field(None, description="Client certificate (PEM) for mTLS.")
    kafka_ssl_key_file: str | None = Field(None, description="Private key (PEM) of the client certificate.")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/tripletex_sync",
        description="PostgreSQL URL of the projections database.",
    )
    topic_prefix: str = Field(
        "", description="Prefix for every topic and consumer group, so environments can share a cluster."
    )
    topic_partitions: int = Field(6, description="Partitions of change, command and outcome topics.")
    create_topics: bool = Field(True, description="Create missing topics at start-up.")
    publish_timeout_s: float = Field(
        1.0,
        description="Longest a webhook or API request waits for Kafka to store its change before 503.",
    )
    batch_max_records: int = Field(500, description="Most records a consumer takes in one batch.")
    batch_timeout_ms: int = Field(100, description="How long a consumer waits to fill a batch.")
    http_host: str = Field("127.0.0.1", description="Address both HTTP servers (public, internal) bind to.")
    http_port: int = Field(8080, description="Port of the public HTTP server (webhooks, health, panel).")
    internal_http_port: int = Field(
        8081, description="Port of the internal HTTP server (ingest API, metrics, operator readiness)."
    )
    ingest_api_tokens: SecretStr | None = Field(
        None,
        description="Producers' bearer tokens for the internal ingest API, `name:token` comma-separated; "
        "unset: every call is refused.",
    )
    operator_tokens: SecretStr | None = Field(
        None,
        description="Operators' bearer tokens (`name:token`, comma-separated) for the internal "
        "listener's tenant readiness; unset: refused.",
    )
    max_body_bytes: int = Field(
        1_048_576, description="Largest request body either HTTP server takes; a larger one gets 413."
    )
    tripletex_dedupe_window_s: float = Field(
        3600,
        description="Seconds a Tripletex delivery's idempotency-key is remembered (repeats publish nothing).",
    )
    log_level: str = Field("INFO", description="Log level of the engine's loggers.")
    log_format: Literal["json", "text"] = Field("json", description="json (structured) or text logs.")
    service_name: str = Field("tripletex-sync", description="OpenTelemetry service.name.")
    catch_up: bool = Field(
        True, description="Run Svenn and Drifti polling and the Tripletex full pass with the ingest."
    )
    svenn_poll_interval_s: float = Field(
        300, description="Seconds between catch-up polls of Svenn per tenant."
    )
    svenn_poll_lookback_s: float = Field(
        3600, description="How far back the first Svenn poll after start looks."
    )
    drifti_poll_interval_s: float = Field(
        300, description="Seconds between catch-up polls of Drifti per tenant."
    )
    drifti_poll_lookback_s: float = Field(
        3600, description="How far back the first Drifti poll after start looks."
    )
    tripletex_reconcile_interval_s: float = Field(
        86400, description="Seconds between full passes over a tenant's Tripletex records."
    )
    svenn_poll_overlap_s: float = Field(
        60,
        description="Seconds each Svenn poll re-reads before the previous poll's start "
        "(clock skew, commits that land late).",
    )
    drifti_poll_overlap_s: float = Field(
        60,
        description="Seconds each Drifti poll re-reads before the previous poll's start "
        "(clock skew, commits that land late).",
    )
    tripletex_subscription_check_interval_s: float = Field(
        600,
        description="Seconds between checks of each tenant's Tripletex webhook subscriptions "
        "(a disabled one is switched on again and what it missed is read).",
    )
    public_base_url: str | None = Field(
        None,
        description="Base URL at which Tripletex reaches the ingest's webhooks (https://…); "
        "unset: the engine does not check Tripletex subscriptions.",
    )
    tenants_file: str | None = Field(
        None,
        description="Each tenant's connections as JSON (tests, sandbox); when set, replaces the registry.",
    )
    tenant_secret_keys: SecretStr | None = Field(
        None,
        description="Fernet keys (comma-separated) sealing tenants' credentials: the first seals, all open.",
    )
    allow_plain_http: bool = Field(
        False,
        description="Accept tenants' http:// base URLs to any host; otherwise only https:// and http:// "
        "to a loopback address (the local simulators).",
    )
    tenant_cache_ttl_s: float = Field(
        5, description="Seconds a process trusts its copy of the tenant registry (pausing takes this long)."
    )
    writer_concurrency: int = Field(
        16, ge=1, description="Commands a writer applies at once within a batch, over all tenants."
    )
    writer_tenant_concurrency: int = Field(
        8, ge=1, description="Commands of one tenant a writer applies at once (its share of the above)."
    )
    writer_probe_interval_s: float = Field(
        10,
        gt=0,
        description="Seconds between a writer's probes of a tenant's unreachable side (doubling, up to 16x).",
    )
    api_unreachable_after_s: float = Field(
        300,
        ge=0,
        description="Seconds a tenant's side may stay unreachable before its API_UNREACHABLE entry.",
    )
    panel_session_secret: SecretStr | None = Field(
        None,
        description="Key signing the panel's session cookies (random per process when unset); "
        f"at least {MIN_SESSION_SECRET_CHARS} characters, never a placeholder.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies (comma-separated addresses or networks, e.g. the Ingress's) whose "
        "X-Forwarded-For/-Proto headers are trusted; nobody else's are.",
    )
    panel_cookie_secure: bool = Field(
        True,
        description="Send the panel's session cookie over HTTPS only; false only for plain-http local use.",
    )

    @field_validator("panel_session_secret")
    @classmethod
    def _real_session_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        """A guessable key lets anyone forge a session for any tenant's panel: refuse it at start-up."""
        if secret is None:
            return None
        value = secret.get_secret_value()
        if value.strip().lower() in PLACEHOLDER_SECRETS or "change-me" in value.lower():
            raise ValueError(
                "PANEL_SESSION_SECRET is a placeholder; set a random value (openssl rand -hex 32)"
            )
        if len(value) < MIN_SESSION_SECRET_CHARS:
            raise ValueError(
                f"PANEL_SESSION_SECRET is shorter than {MIN_SESSION_SECRET_CHARS} characters; "
                "set a random value (openssl rand -hex 32)"
            )
        return secret

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def group(self, consumer: str) -> str:
        return f"{self.topic_prefix}{consumer}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
