"""The simulator's HTTP contract, spoken raw (no client): auth, isolation, validation, money, PDF."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx

from services.drifti.simulator.testing import Sim

Headers = dict[str, str]


def auth(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


async def _post(sim: Sim, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return await sim.admin.post(f"/api/v1{path}", json=body, headers=auth(key))


async def _job(sim: Sim, key: str, number: str = "10001") -> tuple[str, str]:
    customer = (
        await _post(sim, key, "/customers", {"name": "Fjordbygg AS", "customer_number": number})
    ).json()
    job = (await _post(sim, key, "/jobs", {"title": "Nytt bad", "customer_id": customer["id"]})).json()
    return customer["id"], job["id"]


async def test_every_api_route_needs_the_tenants_key(sim: Sim, tenant: tuple[str, str]) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = await sim.admin.get("/api/v1/customers", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="drifti"'
        assert r.headers["X-Request-Id"] == r.json()["error"]["request_id"]
    r = await sim.admin.get("/api/v1/invoices/inv_x/pdf")
    assert r.status_code == 401
    r = await sim.admin.get("/api/v1/me", headers=auth(tenant[1]))
    assert r.status_code == 200 and r.json()["tenant"] == tenant[0]


async def test_tenants_only_ever_see_their_own_records(sim: Sim) -> None:
    _, key_a = await sim.tenant("acme")
    _, key_b = await sim.tenant("bravo")
    customer_a, job_a = await _job(sim, key_a)
    assert (await sim.admin.get(f"/api/v1/customers/{customer_a}", headers=auth(key_b))).status_code == 404
    assert (await sim.admin.get(f"/api/v1/jobs/{job_a}", headers=auth(key_b))).status_code == 404
    listed = (await sim.admin.get("/api/v1/customers", headers=auth(key_b))).json()
    assert listed["data"] == []
    # Numbers are unique per tenant, not globally.
    assert (
        await _post(sim, key_b, "/customers", {"name": "Annen", "customer_number": "10001"})
    ).status_code == 201
    # A tenant's reference to another tenant's record is as unknown as a made-up id.
    r = await _post(sim, key_b, "/jobs", {"title": "Lån", "customer_id": customer_a})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "customer_id"


async def test_validation_errors_name_the_field(sim: Sim, tenant: tuple[str, str]) -> None:
    key = tenant[1]

    async def details(r: httpx.Response) -> list[tuple[str, str]]:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "VALIDATION_FAILED"
        return [(d["field"], d["message"]) for d in r.json()["error"]["details"]]

    assert [
        f
        for f, _ in await details(
            await _post(sim, key, "/customers", {"name": "X", "customer_number": "K-17"})
        )
    ] == ["customer_number"]
    assert ("colour", "Unknown field.") in await details(
        await _post(sim, key, "/customers", {"name": "X", "colour": "red"})
    )
    _, job = await _job(sim, key)
    bad_invoice: dict[str, Any] = {
        "job_id": job,
        "lines": [
            {"description": "Arbeid", "quantity": "2", "unit_price": "100.001", "ledger_account": "3000"},
            {"description": "Ukjent", "quantity": "1", "unit_price": "100", "ledger_account": "9999"},
        ],
    }
    fields = [f for f, _ in await details(await _post(sim, key, "/invoices", bad_invoice))]
    assert fields == ["lines.0.unit_price"]  # shape errors first; the account is checked after
    bad_invoice["lines"][0]["unit_price"] = "100"
    fields = [f for f, _ in await details(await _post(sim, key, "/invoices", bad_invoice))]
    assert fields == ["lines.1.ledger_account"]
    r = await _post(
        sim,
        key,
        "/invoices",
        {
            "job_id": job,
            "invoice_date": "2026-10-10",
            "due_date": "2026-10-01",
            "lines": [{"description": "A", "quantity": 1, "unit_price": 10, "ledger_account": "3000"}],
        },
    )
    assert ("due_date", "Must be on or after invoice_date.") in await details(r)
    assert [
        f
        for f, _ in await details(
            await sim.admin.get("/api/v1/time-entries?from=2026-10-10&to=2026-10-01", headers=auth(key))
        )
    ] == ["to"]
    assert [
        f
        for f, _ in await details(await sim.admin.get("/api/v1/time-entries?status=done", headers=auth(key)))
    ] == ["status"]
    assert [
        f for f, _ in await details(await sim.admin.get("/api/v1/jobs?cursor=nope", headers=auth(key)))
    ] == ["cursor"]
    r = await sim.admin.get(
        "/api/v1/jobs", params={"updated_since": "2026-10-01T12:00:00"}, headers=auth(key)
    )
    assert [f for f, _ in await details(r)] == ["updated_since"]

    dup = await _post(sim, key, "/customers", {"name": "Tvilling", "customer_number": "10001"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "DUPLICATE_CUSTOMER_NUMBER"
    assert dup.json()["error"]["conflicting_id"].startswith("cus_")


async def test_invoice_money_adds_up_and_credit_notes_are_negative(sim: Sim, tenant: tuple[str, str]) -> None:
    key = tenant[1]
    customer_id, job = await _job(sim, key)
    r = await _post(
        sim,
        key,
        "/invoices",
        {
            "job_id": job,
            "invoice_date": "2026-10-05",
            "lines": [
                {
                    "description": "Arbeid",
                    "quantity": "7.5",
                    "unit_price": "895.00",
                    "ledger_account": "3000",
                },
                {"description": "Rør", "quantity": "3", "unit_price": "333.33", "ledger_account": "3005"},
                {
                    "description": "Servering",
                    "quantity": "1",
                    "unit_price": "99.99",
                    "ledger_account": "3015",
                },
                {"description": "Ferge", "quantity": "1", "unit_price": "37.77", "ledger_account": "3025"},
                {"description": "Gebyr", "quantity": "1", "unit_price": "250", "ledger_account": "3100"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    invoice = r.json()
    assert invoice["customer_id"] == customer_id and invoice["kind"] == "invoice"
    assert invoice["due_date"] == "2026-10-19"  # 14 days by default
    assert re.fullmatch(r"\d+", invoice["kid"])
    assert [ln["vat_rate"] for ln in invoice["lines"]] == [25, 25, 15, 12, 0]
    for ln in invoice["lines"]:
        assert Decimal(ln["net_amount"]) + Decimal(ln["vat_amount"]) == Decimal(ln["gross_amount"])
    assert invoice["lines"][1]["vat_amount"] == "250.00"  # 999.99 * 25 % = 249.9975 -> 250.00
    totals = {k: Decimal(invoice[k]) for k in ("net_amount", "vat_amount", "gross_amount")}
    assert totals["net_amount"] + totals["vat_amount"] == totals["gross_amount"]
    assert totals["net_amount"] == sum(Decimal(ln["net_amount"]) for ln in invoice["lines"])
    assert totals["vat_amount"] == sum(Decimal(ln["vat_amount"]) for ln in invoice["lines"])
    assert invoice["outstanding_amount"] == invoice["gross_amount"] and invoice["status"] == "unpaid"

    credit = {
        "credited_invoice_id": invoice["id"],
        "invoice_date": "2026-10-07",
        "lines": [
            {
                "description": "Kreditering rør",
                "quantity": "-3",
                "unit_price": "333.33",
                "ledger_account": "3005",
            }
        ],
    }
    r = await _post(sim, key, "/invoices", credit)
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["kind"] == "credit_note" and note["kid"] is None and note["job_id"] == job
    assert (note["net_amount"], note["vat_amount"], note["gross_amount"]) == (
        "-999.99",
        "-250.00",
        "-1249.99",
    )
    original = (await sim.admin.get(f"/api/v1/invoices/{invoice['id']}", headers=auth(key))).json()
    assert original["credited_amount"] == "1249.99" and original["version"] == 2
    assert Decimal(original["outstanding_amount"]) == totals["gross_amount"] - Decimal("1249.99")

    positive = {**credit, "lines": [{**credit["lines"][0], "quantity": "3"}]}
    assert (await _post(sim, key, "/invoices", positive)).status_code == 422
    too_much = {**credit, "lines": [{**credit["lines"][0], "quantity": "-300"}]}
    r = await _post(sim, key, "/invoices", too_much)
    assert r.status_code == 422 and "unpaid and uncredited" in r.json()["error"]["details"][0]["message"]

    # Payments: a KID payment needs only the KID; nobody can pay more than is owed.
    owed = Decimal(original["outstanding_amount"])
    part = await _post(
        sim,
        key,
        "/payments",
        {"method": "kid", "kid": invoice["kid"], "amount": "1000.00", "payment_date": "2026-10-10"},
    )
    assert part.status_code == 201 and part.json()["invoice_id"] == invoice["id"]
    after = (await sim.admin.get(f"/api/v1/invoices/{invoice['id']}", headers=auth(key))).json()
    assert after["status"] == "partially_paid" and Decimal(after["outstanding_amount"]) == owed - 1000
    over = await _post(
        sim,
        key,
        "/payments",
        {"method": "manual", "invoice_id": invoice["id"], "amount": str(owed), "payment_date": "2026-10-11"},
    )
    assert over.status_code == 422 and over.json()["error"]["details"][0]["field"] == "amount"
    rest = await _post(
        sim,
        key,
        "/payments",
        {
            "method": "manual",
            "invoice_id": invoice["id"],
            "amount": str(owed - 1000),
            "payment_date": "2026-10-11",
        },
    )
    assert rest.status_code == 201
    paid = (await sim.admin.get(f"/api/v1/invoices/{invoice['id']}", headers=auth(key))).json()
    assert (paid["status"], paid["outstanding_amount"]) == ("paid", "0.00")
    wrong_kid = await _post(
        sim, key, "/payments", {"method": "kid", "kid": "123455", "amount": "1", "payment_date": "2026-10-11"}
    )
    assert wrong_kid.status_code == 422 and wrong_kid.json()["error"]["details"][0]["field"] == "kid"


def _check_pdf_structure(pdf: bytes) -> None:
    """Every xref entry points at the object it names, and startxref points at the table."""
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[start:].startswith(b"xref\n")
    table = pdf[start:].split(b"\n")
    count = int(table[1].split()[1])
    for number in range(1, count):
        offset = int(table[2 + number].split()[0])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))  # type: ignore[union-attr]
    stream = pdf.split(b"stream\n", 1)[1]
    assert stream[length:].startswith(b"\nendstream")


async def test_invoice_pdf_is_a_real_pdf(sim: Sim, tenant: tuple[str, str]) -> None:
    key = tenant[1]
    _, job = await _job(sim, key)
    invoice = (
        await _post(
            sim,
            key,
            "/invoices",
            {
                "job_id": job,
                "lines": [
                    {
                        "description": "Blandebatteri (kjøkken) \\ ærlig pris",
                        "quantity": 1,
                        "unit_price": "2490",
                        "ledger_account": "3005",
                    }
                ],
            },
        )
    ).json()
    r = await sim.admin.get(f"/api/v1/invoices/{invoice['id']}/pdf", headers=auth(key))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert f"faktura-{invoice['invoice_number']}.pdf" in r.headers["content-disposition"]
    pdf = r.content
    assert pdf.startswith(b"%PDF-") and pdf.endswith(b"%%EOF")
    assert str(invoice["invoice_number"]).encode() in pdf
    assert "kjøkken".encode("cp1252") in pdf  # Norwegian letters survive, in the font's encoding
    _check_pdf_structure(pdf)
    again = await sim.admin.get(f"/api/v1/invoices/{invoice['id']}/pdf", headers=auth(key))
    assert again.content == pdf  # deterministic: same invoice, same bytes
    assert (await sim.admin.get("/api/v1/invoices/inv_missing/pdf", headers=auth(key))).status_code == 404


async def test_time_entries_filter_by_period_status_and_lock_when_approved(
    sim: Sim, tenant: tuple[str, str]
) -> None:
    key = tenant[1]
    _, job = await _job(sim, key)
    user = (await _post(sim, key, "/users", {"name": "Kari", "email": "kari@ex.no"})).json()
    rate = (await _post(sim, key, "/hourly-rates", {"name": "Fagarbeider", "price_per_hour": "895"})).json()
    ids = {}
    for day, status in (
        ("2026-09-30", "approved"),
        ("2026-10-01", "approved"),
        ("2026-10-15", "pending"),
        ("2026-10-31", "rejected"),
        ("2026-11-01", "approved"),
    ):
        r = await _post(
            sim,
            key,
            "/time-entries",
            {
                "user_id": user["id"],
                "job_id": job,
                "hourly_rate_id": rate["id"],
                "date": day,
                "hours": "7.5",
                "status": status,
            },
        )
        assert r.status_code == 201, r.text
        ids[day] = r.json()["id"]

    async def dates(query: str) -> list[str]:
        r = await sim.admin.get(f"/api/v1/time-entries?{query}", headers=auth(key))
        assert r.status_code == 200, r.text
        return [e["date"] for e in r.json()["data"]]

    assert await dates("from=2026-10-01&to=2026-10-31") == ["2026-10-01", "2026-10-15", "2026-10-31"]
    assert await dates("from=2026-10-01&to=2026-10-31&status=approved") == ["2026-10-01"]
    assert await dates("status=approved") == ["2026-09-30", "2026-10-01", "2026-11-01"]
    assert await dates("status=pending,rejected") == ["2026-10-15", "2026-10-31"]
    assert await dates("from=2026-11-01") == ["2026-11-01"]
    assert await dates(f"user_id={user['id']}&to=2026-09-30") == ["2026-09-30"]

    # Approved hours are locked; reopening them is an explicit step.
    locked = await sim.admin.patch(
        f"/api/v1/time-entries/{ids['2026-10-01']}", json={"hours": "8"}, headers=auth(key)
    )
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "TIME_ENTRY_APPROVED"
    reopened = await sim.admin.patch(
        f"/api/v1/time-entries/{ids['2026-10-01']}",
        json={"hours": "8", "status": "pending"},
        headers=auth(key),
    )
    assert reopened.status_code == 200 and reopened.json()["approved_at"] is None
    approved = await sim.admin.patch(
        f"/api/v1/time-entries/{ids['2026-10-15']}", json={"status": "approved"}, headers=auth(key)
    )
    assert approved.json()["approved_at"] is not None and approved.json()["version"] == 2
    since = approved.json()["updated_at"]
    assert await dates(f"updated_since={since.replace('Z', '%2B00:00')}") == ["2026-10-15"]

    # Hours cannot be logged on a closed job.
    await sim.admin.patch(f"/api/v1/jobs/{job}", json={"status": "closed"}, headers=auth(key))
    r = await _post(
        sim,
        key,
        "/time-entries",
        {
            "user_id": user["id"],
            "job_id": job,
            "hourly_rate_id": rate["id"],
            "date": "2026-11-02",
            "hours": "1",
        },
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "job_id"


async def test_rate_limit_answers_429_with_retry_after(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, rate_limit={"limit": 2, "period_seconds": 30})
    statuses = [(await sim.admin.get("/api/v1/users", headers=auth(key))).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = await sim.admin.get("/api/v1/users", headers=auth(key))
    assert r.json()["error"]["code"] == "RATE_LIMITED" and int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-RateLimit-Remaining"] == "0"
    # Another tenant is not affected, and /_sim is never limited.
    _, other = await sim.tenant()
    assert (await sim.admin.get("/api/v1/users", headers=auth(other))).status_code == 200
    assert (await sim.admin.get(f"/_sim/tenants/{name}/dump")).status_code == 200


async def test_idempotent_create_replays_instead_of_duplicating(sim: Sim, tenant: tuple[str, str]) -> None:
    key = tenant[1]
    _, job = await _job(sim, key)
    body = {
        "job_id": job,
        "lines": [{"description": "A", "quantity": 1, "unit_price": "100", "ledger_account": "3000"}],
    }
    headers = {**auth(key), "Idempotency-Key": "cmd-1"}
    first = await sim.admin.post("/api/v1/invoices", json=body, headers=headers)
    second = await sim.admin.post("/api/v1/invoices", json=body, headers=headers)
    assert second.json() == first.json() and second.headers["Idempotent-Replayed"] == "true"
    other = await sim.admin.post(
        "/api/v1/invoices", json={**body, "invoice_date": "2026-10-01"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    listed = (await sim.admin.get("/api/v1/invoices", headers=auth(key))).json()["data"]
    assert len(listed) == 1


async def test_admin_reset_dump_and_injected_faults(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await _job(sim, key)
    dump = (await sim.admin.get(f"/_sim/tenants/{name}/dump")).json()
    assert len(dump["customers"]) == 1 and len(dump["ledger_accounts"]) == 6
    await sim.faults(name, fail_next=1, error_status=502)
    assert (await sim.admin.get("/api/v1/jobs", headers=auth(key))).status_code == 502
    assert (await sim.admin.get("/api/v1/jobs", headers=auth(key))).status_code == 200
    assert (await sim.admin.post(f"/_sim/tenants/{name}/reset")).status_code == 204
    dump = (await sim.admin.get(f"/_sim/tenants/{name}/dump")).json()
    assert dump["customers"] == [] and dump["jobs"] == [] and len(dump["ledger_accounts"]) == 6
    assert (await sim.admin.get("/api/v1/jobs", headers=auth(key))).status_code == 200  # key kept
    assert (await sim.admin.post("/_sim/reset")).status_code == 204
    assert (await sim.admin.get("/api/v1/jobs", headers=auth(key))).status_code == 401
