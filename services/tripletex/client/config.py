"""Client configuration: credentials and the knobs of the retry/limit policy.

Tokens are :class:`pydantic.SecretStr` so that ``repr()``, ``str()``, logging a config object
or dumping it to JSON never shows them. Every delay is a parameter so tests can run the real
retry code with millisecond bases instead of the production seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Prod and test tokens are not interchangeable (tripletex-api2#53): pick the URL with the token.
PRODUCTION_BASE_URL = "https://tripletex.no/v2"
TEST_BASE_URL = "https://api-test.tripletex.tech/v2"


class TripletexCredentials(BaseModel):
    """What a tenant gave us when it connected its Tripletex account."""

    model_config = ConfigDict(frozen=True)

    consumer_token: SecretStr
    employee_token: SecretStr
    # "0" = the token owner's own company; an accountant token uses a client company id.
    company_id: str = "0"


class SessionPolicy(BaseModel):
    """How long a session is minted for and when it is renewed.

    Tripletex ends a session at midnight (Norwegian time) on ``expirationDate`` and hands out
    an already-dead token for ``expirationDate = today`` (NangoHQ/nango#6298), so we mint
    several days ahead and renew a day early.
    """

    model_config = ConfigDict(frozen=True)

    valid_days: int = Field(default=7, ge=2)
    renew_days_before_expiry: int = Field(default=1, ge=1)
    timezone: str = "Europe/Oslo"

    @model_validator(mode="after")
    def _renew_inside_validity(self) -> SessionPolicy:
        # Otherwise every call would find the session stale and mint a new one.
        if self.renew_days_before_expiry >= self.valid_days:
            raise ValueError("renew_days_before_expiry must be less than valid_days")
        return self


class RetryPolicy(BaseModel):
    """Backoff for 429, 5xx and transport failures (exponential, full jitter, capped)."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=6, ge=1)
    # 429 without X-Rate-Limit-Reset (tripletex-api2#103): 1 s, 2 s, 4 s ... capped at 60 s.
    rate_limit_base_seconds: float = 1.0
    rate_limit_cap_seconds: float = 60.0
    rate_limit_max_attempts: int = Field(default=8, ge=1)
    # 5xx and timeouts.
    server_error_base_seconds: float = 0.5
    server_error_cap_seconds: float = 30.0
    # Optimistic-locking retries after 409/8000.
    revision_max_attempts: int = Field(default=5, ge=1)
    # find-before-create rounds after an unknown outcome.
    create_max_attempts: int = Field(default=3, ge=1)


class LimiterPolicy(BaseModel):
    """Per-tenant concurrency and pacing."""

    model_config = ConfigDict(frozen=True)

    max_concurrency_per_tenant: int = Field(default=4, ge=1)
    # Stop sending once this share of the period's budget is left (at least 1 request).
    reserve_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    # Below this share of the budget, space requests evenly until the period ends.
    pace_below_fraction: float = Field(default=0.2, ge=0.0, le=1.0)
    # Never wait longer than this for a reset before trying again.
    max_pause_seconds: float = 60.0


class ClientSettings(BaseModel):
    """Everything but the tenant: safe to share between tenants."""

    model_config = ConfigDict(frozen=True)

    timeout_seconds: float = 30.0
    session: SessionPolicy = SessionPolicy()
    retry: RetryPolicy = RetryPolicy()
    limiter: LimiterPolicy = LimiterPolicy()
    user_agent: str = "tripletex-sync/0.1"
