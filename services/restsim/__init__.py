"""Pieces shared by the Svenn- and Drifti-style REST simulators.

Both simulators speak the same dialect: one JSON error envelope, per-tenant fault injection
behind a bearer-key gate, cursor pagination, ``Idempotency-Key`` replay and HMAC-signed
webhook deliveries. Each piece lives here once; a product passes only what differs (its name,
its header prefix).
"""
