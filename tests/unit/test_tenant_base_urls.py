"""Tenants' base URLs carry their credentials: https:// only, plain http to loopback or by setting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.core.tenants import InsecureBaseUrl, StaticTenantDirectory, check_base_url


@pytest.mark.parametrize(
    "url",
    [
        "https://tripletex.no/v2",
        "https://api.svenn.no",
        "http://127.0.0.1:8123",
        "http://localhost/v2",
        "http://[::1]:80",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert check_base_url("acme", "tripletex", url) == url


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://tripletex.no/v2", "must be https://"),
        ("http://10.0.0.7:8080", "must be https://"),
        ("ftp://tripletex.no", "is not an https:// URL"),
        ("tripletex.no/v2", "is not an https:// URL"),
        ("https://", "is not an https:// URL"),
    ],
)
def test_anything_else_is_refused_naming_tenant_side_and_url(url: str, message: str) -> None:
    with pytest.raises(InsecureBaseUrl, match=message) as refused:
        check_base_url("acme", "svenn", url)
    assert "tenant 'acme': svenn base URL" in str(refused.value) and url in str(refused.value)


def test_a_login_in_the_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(InsecureBaseUrl, match="must not carry a user or password") as refused:
        check_base_url("acme", "svenn", "https://user:pa55word@api.svenn.no")
    assert "pa55word" not in str(refused.value)


def test_allow_plain_http_allows_any_host() -> None:
    assert check_base_url("acme", "svenn", "http://svenn-sim.tools", allow_plain_http=True)
    with pytest.raises(InsecureBaseUrl):
        check_base_url("acme", "svenn", "ftp://svenn-sim.tools", allow_plain_http=True)


def test_tenants_file_with_a_plain_http_url_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "tenants.json"
    file.write_text(
        json.dumps([{"tenant_id": "acme", "svenn": {"base_url": "http://api.svenn.no", "api_key": "k"}}])
    )
    with pytest.raises(
        InsecureBaseUrl,
        match=re.escape("tenant 'acme': svenn base URL 'http://api.svenn.no' must be https://"),
    ):
        StaticTenantDirectory.from_file(file)
    assert StaticTenantDirectory.from_file(file, allow_plain_http=True)._tenants["acme"]
