"""Vouchers (balance, rows, party, VAT), attachments, postings and invoice payments."""

from __future__ import annotations

from typing import Any

from services.tripletex.simulator.testing import SimulatorHarness, Tenant

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _lookup(sim: SimulatorHarness, tenant: Tenant) -> dict[str, int]:
    accounts = await sim.client.get(
        "/v2/ledger/account", auth=tenant.auth, params={"number": "1500,3000,1920", "fields": "id,number"}
    )
    ids = {str(a["number"]): a["id"] for a in accounts.json()["values"]}
    vat = await sim.client.get("/v2/ledger/vatType", auth=tenant.auth, params={"number": "3", "fields": "id"})
    ids["vat3"] = vat.json()["values"][0]["id"]
    customer = await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "Kunde AS"})
    ids["customer"] = customer.json()["value"]["id"]
    return ids


def _invoice_voucher(
    ids: dict[str, int], total: float = 1250.0, credit: float | None = None
) -> dict[str, Any]:
    return {
        "date": "2026-03-15",
        "description": "Faktura 1001",
        "externalVoucherNumber": "drifti-inv-1001",
        "postings": [
            {
                "row": 1,
                "account": {"id": ids["1500"]},
                "customer": {"id": ids["customer"]},
                "amountGross": total,
                "amountGrossCurrency": total,
                "invoiceNumber": "1001",
                "termOfPayment": "2026-03-29",
            },
            {
                "row": 2,
                "account": {"id": ids["3000"]},
                "vatType": {"id": ids["vat3"]},
                "amountGross": -(credit if credit is not None else total),
                "amountGrossCurrency": -(credit if credit is not None else total),
            },
        ],
    }


async def test_voucher_must_balance_and_needs_rows_and_customer() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        ids = await _lookup(sim, tenant)
        unbalanced = await sim.client.post(
            "/v2/ledger/voucher", auth=tenant.auth, json=_invoice_voucher(ids, credit=1000)
        )
        assert unbalanced.status_code == 422
        assert unbalanced.json()["validationMessages"][0]["field"] == "postings"

        body = _invoice_voucher(ids)
        body["postings"][0]["row"] = 0
        del body["postings"][0]["customer"]
        invalid = await sim.client.post("/v2/ledger/voucher", auth=tenant.auth, json=body)
        messages = {(m["field"], m["path"]) for m in invalid.json()["validationMessages"]}
        assert ("postings.row", "postings[0].row") in messages
        assert ("postings.customer", "postings[0].customer") in messages
        assert "Kunde mangler" in {m["message"] for m in invalid.json()["validationMessages"]}


async def test_voucher_generates_vat_and_is_found_by_external_number() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        ids = await _lookup(sim, tenant)
        created = await sim.client.post("/v2/ledger/voucher", auth=tenant.auth, json=_invoice_voucher(ids))
        assert created.status_code == 201
        voucher = created.json()["value"]
        assert voucher["number"] == 1 and voucher["year"] == 2026
        postings = await sim.client.get(
            "/v2/ledger/posting",
            auth=tenant.auth,
            params={
                "dateFrom": "2026-03-01",
                "dateTo": "2026-04-01",
                "fields": "row,amount,amountGross,account(number)",
            },
        )
        rows = sorted(
            (p["row"], p["account"]["number"], p["amount"], p["amountGross"])
            for p in postings.json()["values"]
        )
        assert rows == [(0, 2700, -250.0, -250.0), (1, 1500, 1250.0, 1250.0), (2, 3000, -1000.0, -1250.0)]

        found = await sim.client.get(
            "/v2/ledger/voucher/>externalVoucherNumber",
            auth=tenant.auth,
            params={"externalVoucherNumber": "drifti-inv-1001"},
        )
        assert [v["id"] for v in found.json()["values"]] == [voucher["id"]]
        window = await sim.client.get(
            "/v2/ledger/voucher", auth=tenant.auth, params={"dateFrom": "2026-03-15", "dateTo": "2026-03-16"}
        )
        assert window.json()["totalNumberOfPostings"] == 3


async def test_attachment_round_trip_appends() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        ids = await _lookup(sim, tenant)
        voucher = (
            await sim.client.post("/v2/ledger/voucher", auth=tenant.auth, json=_invoice_voucher(ids))
        ).json()
        vid = voucher["value"]["id"]
        upload = await sim.client.post(
            f"/v2/ledger/voucher/{vid}/attachment",
            auth=tenant.auth,
            files={"file": ("faktura-1001.pdf", PDF, "application/pdf")},
        )
        assert upload.status_code == 201
        attachment = upload.json()["value"]["attachment"]
        assert upload.json()["value"]["version"] == 1
        document = await sim.client.get(f"/v2/document/{attachment['id']}", auth=tenant.auth)
        assert document.json()["value"]["fileName"] == "faktura-1001.pdf"
        assert document.json()["value"]["size"] == len(PDF)
        content = await sim.client.get(f"/v2/document/{attachment['id']}/content", auth=tenant.auth)
        assert content.content == PDF

        again = await sim.client.post(
            f"/v2/ledger/voucher/{vid}/attachment",
            auth=tenant.auth,
            files={"file": ("side2.pdf", PDF, "application/pdf")},
        )
        assert again.json()["value"]["attachment"]["id"] == attachment["id"]
        content = await sim.client.get(f"/v2/document/{attachment['id']}/content", auth=tenant.auth)
        assert content.content == PDF + PDF

        no_file = await sim.client.post(
            f"/v2/ledger/voucher/{vid}/attachment", auth=tenant.auth, files={"other": ("x", b"x")}
        )
        assert no_file.status_code == 422


async def test_invoice_payment_and_close_postings() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        ids = await _lookup(sim, tenant)
        seeded = await sim.client.post(
            f"/_sim/companies/{tenant.company.id}/invoices",
            json={"customerId": ids["customer"], "amount": 1250, "invoiceDate": "2026-03-01"},
        )
        invoice_id = seeded.json()["id"]
        payment_types = await sim.client.get("/v2/invoice/paymentType", auth=tenant.auth)
        payment_type = payment_types.json()["values"][0]["id"]
        missing = await sim.client.put(f"/v2/invoice/{invoice_id}/:payment", auth=tenant.auth)
        assert missing.status_code == 422
        paid = await sim.client.put(
            f"/v2/invoice/{invoice_id}/:payment",
            auth=tenant.auth,
            params={"paymentDate": "2026-03-20", "paymentTypeId": payment_type, "paidAmount": 1000},
        )
        assert paid.status_code == 200
        assert paid.json()["value"]["amountOutstanding"] == 250.0

        receivables = await sim.client.get(
            "/v2/ledger/posting",
            auth=tenant.auth,
            params={
                "dateFrom": "2026-03-01",
                "dateTo": "2026-04-01",
                "accountId": ids["1500"],
                "fields": "id,amountGross",
            },
        )
        values = receivables.json()["values"]
        assert sorted(p["amountGross"] for p in values) == [-1000.0, 1250.0]
        refused = await sim.client.put(
            "/v2/ledger/posting/:closePostings", auth=tenant.auth, json=[p["id"] for p in values]
        )
        assert refused.json()["count"] == 2
        await sim.client.put(
            f"/v2/invoice/{invoice_id}/:payment",
            auth=tenant.auth,
            params={"paymentDate": "2026-03-21", "paymentTypeId": payment_type, "paidAmount": 250},
        )
        all_receivables = await sim.client.get(
            "/v2/ledger/posting",
            auth=tenant.auth,
            params={
                "dateFrom": "2026-03-01",
                "dateTo": "2026-04-01",
                "accountId": ids["1500"],
                "fields": "id",
            },
        )
        closed = await sim.client.put(
            "/v2/ledger/posting/:closePostings",
            auth=tenant.auth,
            json=[p["id"] for p in all_receivables.json()["values"]],
        )
        assert closed.json()["values"] == []
        open_left = await sim.client.get(
            "/v2/ledger/posting",
            auth=tenant.auth,
            params={
                "dateFrom": "2026-03-01",
                "dateTo": "2026-04-01",
                "accountId": ids["1500"],
                "openPostings": "true",
            },
        )
        assert open_left.json()["values"] == []
