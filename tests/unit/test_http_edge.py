"""Producer and operator tokens, and the memory of recent Tripletex deliveries (core/http_edge.py)."""

from __future__ import annotations

import logging

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from services.core.http_edge import BearerTokens, RecentAnswers, TokenListError

RESYNC, DEMO = "resync-" + "r" * 20, "demo-" + "d" * 20


def request(authorization: bytes | None) -> Request:
    headers = [(b"authorization", authorization)] if authorization is not None else []
    return Request({"type": "http", "method": "POST", "path": "/v1/changes", "headers": headers})


def tokens(value: str | None) -> BearerTokens:
    return BearerTokens.parse("INGEST_API_TOKENS", SecretStr(value) if value is not None else None)


def test_each_token_is_known_by_its_producers_name() -> None:
    producers = tokens(f"resync:{RESYNC}, demo:{DEMO},")
    assert producers.holder(request(f"Bearer {RESYNC}".encode())) == "resync"
    assert producers.holder(request(f"bearer {DEMO}".encode())) == "demo"


@pytest.mark.parametrize(
    "authorization",
    [None, b"", b"Bearer", b"Bearer not-a-token-we-know", f"Basic {RESYNC}".encode(), RESYNC.encode()],
)
def test_anything_but_a_known_bearer_token_has_no_holder(authorization: bytes | None) -> None:
    assert tokens(f"resync:{RESYNC}").holder(request(authorization)) is None


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_configured_token_admits_nobody(value: str | None) -> None:
    producers = tokens(value)
    assert not producers
    refused = producers.admit(request(f"Bearer {RESYNC}".encode()), logging.getLogger(__name__), "a change")
    assert isinstance(refused, JSONResponse) and refused.status_code == 401


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (RESYNC, "entry 1 is not name:token"),
        (f"resync:{RESYNC},{DEMO}", "entry 2 is not name:token"),
        ("resync:short", "shorter than 16 characters"),
        (f"resync:{RESYNC[:10]} {RESYNC[10:]}", "has spaces"),
        (f"resync:{RESYNC},resync:{DEMO}", "listed twice"),
        (f"resync:{RESYNC},demo:{RESYNC}", "listed twice"),
    ],
)
def test_a_malformed_list_names_the_variable_and_never_a_token(value: str, why: str) -> None:
    with pytest.raises(TokenListError) as error:
        tokens(value)
    assert str(error.value).startswith("INGEST_API_TOKENS: ") and why in str(error.value)
    assert RESYNC[:10] not in str(error.value) and DEMO[:10] not in str(error.value)


def test_an_answer_is_given_again_within_the_window_only() -> None:
    now = [0.0]
    answers = RecentAnswers(60, clock=lambda: now[0])
    answers.put(("acme", "key-1"), JSONResponse({"event_id": "e1"}, status_code=202))
    now[0] = 59.0
    again = answers.get(("acme", "key-1"))
    assert again is not None and (again.status_code, bytes(again.body)) == (202, b'{"event_id":"e1"}')
    assert answers.get(("other-tenant", "key-1")) is None
    now[0] = 60.0
    assert answers.get(("acme", "key-1")) is None


def test_the_oldest_answers_go_first_when_the_memory_is_full() -> None:
    answers = RecentAnswers(60, max_entries=2)
    for key in ("k1", "k2", "k3"):
        answers.put(("acme", key), JSONResponse({}, status_code=202))
    assert [answers.get(("acme", k)) is not None for k in ("k1", "k2", "k3")] == [False, True, True]
