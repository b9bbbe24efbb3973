"""The panel's session cookie: what it lets in and what it keeps out."""

from __future__ import annotations

from services.panel.access import token_hash
from services.panel.session import LIFETIME_S, SessionSigner


def test_a_signed_session_reads_back_until_it_expires() -> None:
    signer = SessionSigner("k")
    cookie = signer.issue("a1b2", "acme", now=1000)
    session = signer.read(cookie, now=1000 + LIFETIME_S - 1)
    assert session is not None and (session.access_id, session.tenant_id) == ("a1b2", "acme")
    assert signer.read(cookie, now=1000 + LIFETIME_S + 1) is None


def test_an_edited_or_foreign_cookie_is_no_session() -> None:
    signer = SessionSigner("k")
    cookie = signer.issue("a1b2", "acme", now=1000)
    assert signer.read(cookie.replace("acme", "other"), now=1000) is None
    expires = str(1000 + LIFETIME_S)
    assert signer.read(cookie.replace(expires, expires + "0"), now=1000) is None  # a longer life
    assert SessionSigner("another key").read(cookie, now=1000) is None
    assert SessionSigner(None).read(cookie, now=1000) is None  # unset secret: a random key per process
    for junk in ("", "x", "a.b.c", "a.b.notanumber.sig"):
        assert signer.read(junk, now=1000) is None


def test_the_form_token_belongs_to_one_session() -> None:
    signer = SessionSigner("k")
    one, two = signer.issue("a1", "acme", now=1), signer.issue("a2", "acme", now=1)
    assert signer.csrf(one) == signer.csrf(one) != signer.csrf(two)


def test_tokens_are_stored_as_a_hash_that_ignores_surrounding_whitespace() -> None:
    assert token_hash(" tsp_x_y\n") == token_hash("tsp_x_y") != "tsp_x_y"
    assert len(token_hash("tsp_x_y")) == 64


def test_a_placeholder_or_short_session_secret_is_a_start_up_error_naming_the_variable() -> None:
    import pytest
    from pydantic import ValidationError

    from services.core.settings import Settings

    for bad in ("CHANGE-ME", "change-me-please-to-something-long-enough", "secret", "x" * 31):
        with pytest.raises(ValidationError) as refused:
            Settings(panel_session_secret=bad)
        assert "PANEL_SESSION_SECRET" in str(refused.value)
        if len(bad) > 8:
            assert bad not in str(refused.value)  # the refused value is never printed
    good = "0f" * 16
    assert Settings(panel_session_secret=good).panel_session_secret is not None
    assert Settings().panel_session_secret is None  # unset: a random key per process


def test_forwarded_headers_count_only_from_the_configured_proxies() -> None:
    import uvicorn

    from services.core.settings import Settings
    from services.runtime import server_options

    config = uvicorn.Config(lambda: None, **server_options(Settings(forwarded_allow_ips="10.0.0.0/8")))
    config.load()  # uvicorn wraps the app in its proxy-headers middleware with the trusted hosts
    trusted = config.loaded_app.trusted_hosts  # type: ignore[attr-defined]
    assert trusted.always_trust is False
    assert "10.1.2.3" in trusted and "192.168.0.1" not in trusted and "127.0.0.1" not in trusted
