"""Svenn's fault injection: the shared one in ``services.restsim.faults``, re-exported."""

from services.restsim.faults import DEFAULT_RATE_LIMIT, FaultConfig, RateLimitConfig, RateWindow, TenantFaults

__all__ = ["DEFAULT_RATE_LIMIT", "FaultConfig", "RateLimitConfig", "RateWindow", "TenantFaults"]
