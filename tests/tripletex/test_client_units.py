"""Pieces without a server: error mapping, write bodies, paging, locking, secrets."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.tripletex.client import (
    ConflictKind,
    TripletexAuthError,
    TripletexClient,
    TripletexConflictError,
    TripletexCredentials,
    TripletexNotFound,
    TripletexValidationError,
)
from services.tripletex.client.envelopes import Page, iterate_pages
from services.tripletex.client.errors import Redactor, parse_error
from services.tripletex.client.ledger import check_postings
from services.tripletex.client.models import Posting, Project, ProjectParticipant, Ref, Voucher, write_body

from .conftest import CLIENT_CONSUMER_TOKEN, CLIENT_EMPLOYEE_TOKEN


def _response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("GET", "http://x/v2/y"))


def test_validation_error_carries_field_messages() -> None:
    error = parse_error(
        _response(
            422,
            {
                "status": 422,
                "code": 18000,
                "message": "Validering feilet.",
                "validationMessages": [
                    {
                        "field": "startDate",
                        "message": "Feltet må fylles ut.",
                        "path": "startDate",
                        "rootId": None,
                    }
                ],
                "requestId": "abc-123",
            },
        ),
        redact=Redactor(),
    )
    assert isinstance(error, TripletexValidationError)
    assert error.fields == ["startDate"]
    assert error.validation_messages[0].message == "Feltet må fylles ut."
    assert (error.status, error.code, error.request_id) == (422, 18000, "abc-123")
    assert "startDate" in str(error)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (7000, ConflictKind.OBJECT_EXISTS),
        (8000, ConflictKind.REVISION),
        (10000, ConflictKind.LOCKED),
        (14000, ConflictKind.DUPLICATE_ENTRY),
    ],
)
def test_conflict_codes_are_distinguished(code: int, kind: ConflictKind) -> None:
    error = parse_error(_response(409, {"status": 409, "code": code, "message": "x"}), redact=Redactor())
    assert isinstance(error, TripletexConflictError)
    assert error.kind is kind
    assert error.is_revision == (code == 8000)
    assert error.means_exists == (code in (7000, 14000))


def test_request_id_falls_back_to_header_and_status_maps_to_type() -> None:
    error = parse_error(
        _response(404, {"status": 404, "code": 6000}, {"x-tlx-request-id": "hdr-1"}), redact=Redactor()
    )
    assert isinstance(error, TripletexNotFound) and error.request_id == "hdr-1"
    assert isinstance(parse_error(_response(403, {"code": 9000}), redact=Redactor()), TripletexAuthError)


def test_write_body_drops_read_only_unset_and_create_ids() -> None:
    project = Project.model_validate(
        {
            "id": 5,
            "version": 3,
            "url": "https://x/v2/project/5",
            "name": "Tak",
            "number": "2024.17",
            "displayName": "2024.17 Tak",
            "projectManager": {"id": 9, "url": "https://x/v2/employee/9"},
            "startDate": "2026-11-01",
            "fixedprice": "1200.50",
        }
    )
    assert write_body(project) == {
        "id": 5,
        "version": 3,
        "name": "Tak",
        "number": "2024.17",
        "projectManager": {"id": 9},
        "startDate": "2026-11-01",
        "fixedprice": 1200.5,
    }
    created = write_body(project, for_create=True)
    assert "id" not in created and "version" not in created
    assert created["projectManager"] == {"id": 9}  # nested references keep their id


def test_project_number_stays_a_string() -> None:
    project = Project.model_validate({"number": "007"})
    assert project.number == "007"
    participant = ProjectParticipant(project=Ref.to(1), employee=Ref.to(2), admin_access=False)
    assert write_body(participant, for_create=True) == {
        "project": {"id": 1},
        "employee": {"id": 2},
        "adminAccess": False,
    }


def test_postings_checked_before_sending() -> None:
    ok = [
        Posting(row=1, account=Ref.to(1), amount_gross=Decimal("125.00")),
        Posting(row=2, account=Ref.to(2), amount_gross=Decimal("-125.00")),
    ]
    check_postings(ok)
    with pytest.raises(ValueError, match="row"):
        check_postings([Posting(row=0, amount_gross=Decimal(0))])
    with pytest.raises(ValueError, match="balance"):
        check_postings([Posting(row=1, amount_gross=Decimal(1))])
    body = write_body(
        Voucher(date=dt.date(2026, 11, 1), description="Faktura 1", postings=ok), for_create=True
    )
    assert body["postings"][0] == {"row": 1, "account": {"id": 1}, "amountGross": 125}


async def test_iterate_pages_stops_on_short_page() -> None:
    calls: list[tuple[int, int]] = []
    data = [Ref.to(i) for i in range(2500)]

    async def fetch(start: int, count: int) -> Page[Ref]:
        calls.append((start, count))
        chunk = data[start : start + count]
        return Page(values=chunk, count=len(chunk), from_=start)

    got = [r.id async for r in iterate_pages(fetch, page_size=1000)]
    assert got == list(range(2500))
    assert calls == [(0, 1000), (1000, 1000), (2000, 1000)]


def test_redactor_hides_secrets_in_server_text() -> None:
    redact = Redactor([CLIENT_CONSUMER_TOKEN])
    error = parse_error(
        _response(422, {"status": 422, "message": f"The consumer token {CLIENT_CONSUMER_TOKEN} is invalid"}),
        redact=redact,
    )
    assert CLIENT_CONSUMER_TOKEN not in str(error) and CLIENT_CONSUMER_TOKEN not in repr(error)


def test_credentials_never_show_tokens() -> None:
    creds = TripletexCredentials(consumer_token=CLIENT_CONSUMER_TOKEN, employee_token=CLIENT_EMPLOYEE_TOKEN)
    for text in (repr(creds), str(creds), creds.model_dump_json(), str(creds.model_dump())):
        assert CLIENT_CONSUMER_TOKEN not in text and CLIENT_EMPLOYEE_TOKEN not in text


async def test_tokens_absent_from_repr_logs_and_errors(
    client_on_fake: TripletexClient, client_fake: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client_fake.script = [
        httpx.Response(401, json={"status": 401, "code": 3000}),
        httpx.Response(
            401, json={"status": 401, "code": 3000, "message": f"bad {client_fake.session_token(2)}"}
        ),
    ]
    with pytest.raises(TripletexAuthError) as info:
        await client_on_fake.customers.get(1)
    secrets = [
        CLIENT_CONSUMER_TOKEN,
        CLIENT_EMPLOYEE_TOKEN,
        client_fake.session_token(1),
        client_fake.session_token(2),
    ]
    session = await client_on_fake.sessions.current()
    texts = [
        str(info.value),
        repr(info.value),
        repr(client_on_fake),
        repr(client_on_fake.sessions),
        repr(client_on_fake.transport),
        repr(session),
        str(session),
        caplog.text,
        *(str(r.__dict__) for r in caplog.records),
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text


async def test_spans_name_the_call_and_hold_no_secret(
    client_on_fake: TripletexClient, client_fake: Any, spans: Any
) -> None:
    spans.clear()
    client_fake.script = [
        httpx.Response(401, json={"status": 401, "code": 3000}),
        httpx.Response(404, json={"status": 404, "code": 6000, "requestId": "req-404"}),
    ]
    with pytest.raises(TripletexNotFound):
        await client_on_fake.customers.get(5)
    await client_on_fake.customers.get(6)
    finished = [s for s in spans.get_finished_spans() if s.name.startswith("tripletex ")]
    assert len(finished) == 2
    failed, ok = finished
    assert failed.attributes["tripletex.tenant_id"] == "tenant-fake"
    assert failed.attributes["url.path"] == "/customer/5"
    assert failed.attributes["http.response.status_code"] == 404
    assert failed.attributes["tripletex.request_id"] == "req-404"
    assert failed.attributes["tripletex.attempts"] == 2  # 401, re-mint, 404
    assert ok.attributes["http.response.status_code"] == 200
    dumped = " ".join(s.to_json() for s in finished)
    for secret in (
        CLIENT_CONSUMER_TOKEN,
        CLIENT_EMPLOYEE_TOKEN,
        client_fake.session_token(1),
        client_fake.session_token(2),
    ):
        assert secret not in dumped


async def test_session_create_retried_on_5xx(client_on_fake: TripletexClient, client_fake: Any) -> None:
    client_fake.mint_script = [httpx.Response(503), httpx.Response(429)]
    assert (await client_on_fake.customers.get(1)).id == 1
    assert client_fake.mints == 1 and not client_fake.mint_script


def test_blank_strings_from_tripletex_read_as_unset() -> None:
    posting = Posting.model_validate({"termOfPayment": "", "date": "2026-11-01", "row": 1})
    assert posting.term_of_payment is None and posting.date == dt.date(2026, 11, 1)
    project = Project.model_validate({"startDate": "", "number": ""})
    assert project.start_date is None and project.number == ""


async def test_last_part_of_the_budget_is_paced_over_the_period() -> None:
    from services.tripletex.client import LimiterPolicy
    from services.tripletex.client.rate_limit import TenantLimiter

    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = TenantLimiter("t", LimiterPolicy(), sleep=sleep, monotonic=lambda: now[0])
    limiter.observe({"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "10", "X-Rate-Limit-Reset": "10"})
    for _ in range(8):
        async with limiter.slot():
            pass
    # 10 left, 5 of them the reserve: the usable 5 are spread over the 10 s period, about 2 s
    # apart, so the reserve is reached as the period ends and the stop at the reserve is short.
    assert limiter.paced_waits >= 4
    assert max(waits) <= 2.5
    assert 8 <= now[0] - 100.0 <= 10.5
