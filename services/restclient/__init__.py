"""Pieces shared by the Svenn and Drifti API clients.

Both APIs share one dialect (bearer keys, the same error envelope, ``Retry-After`` on 429,
``Idempotency-Key`` on creates, HMAC-signed webhooks), so the request/retry loop, the auth,
the retry policy and the webhook signature check live here once. Each client passes only
what differs: its error types, its name, its header names.
"""
