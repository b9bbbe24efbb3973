"""Every simulator response for the used endpoints validates against the vendored subset.

The OpenAPI 3 document has neither `required` nor `nullable` (tripletex-api2#121), so the
conversion to JSON Schema lets every property be null; to still catch invented fields,
objects with declared properties get `additionalProperties: false`. Error responses are
checked against `ApiError`. Only the vendored file is used (a clone has no /work/shared).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from services.tripletex.openapi.extract_subset import USED_PATHS, extract
from services.tripletex.simulator.spec import SUBSET_PATH
from services.tripletex.simulator.testing import SimulatorHarness, Tenant

DOCUMENT: dict[str, Any] = json.loads(Path(SUBSET_PATH).read_text(encoding="utf-8"))
PDF = b"%PDF-1.4\n%%EOF\n"


def _convert(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_convert(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: _convert(value) for key, value in schema.items() if key not in ("readOnly", "example", "format")
    }
    if "$ref" in out:
        return {"$ref": out["$ref"].replace("#/components/schemas/", "#/$defs/")}
    if "properties" in schema:
        out["properties"] = {name: _nullable(_convert(prop)) for name, prop in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


DEFS = {name: _convert(schema) for name, schema in DOCUMENT["components"]["schemas"].items()}


def _validate(schema: dict[str, Any], instance: Any) -> None:
    root = {"$defs": DEFS, **_convert(copy.deepcopy(schema))}
    jsonschema.Draft202012Validator(root).validate(instance)


class Checked:
    """Calls the simulator by path template and validates each response."""

    def __init__(self, sim: SimulatorHarness, tenant: Tenant | None) -> None:
        self.sim = sim
        self.tenant = tenant
        self.covered: set[tuple[str, str]] = set()

    async def __call__(
        self, method: str, template: str, path: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        url = "/v2" + template.format(**(path or {}))
        auth = self.tenant.auth if self.tenant else None
        response = await self.sim.client.request(method, url, auth=auth, **kw)
        operation = DOCUMENT["paths"][template][method.lower()]
        if response.status_code >= 400:
            _validate({"$ref": "#/components/schemas/ApiError"}, response.json())
        else:
            declared = operation["responses"].get(str(response.status_code))
            assert declared is not None, f"{method} {template} -> undeclared {response.status_code}"
            content = declared.get("content", {})
            json_schema = (content.get("application/json") or {}).get("schema")
            if json_schema is not None and response.status_code != 204:
                _validate(json_schema, response.json())
        self.covered.add((method.upper(), template))
        return response


async def test_vendored_subset_is_closed_and_reproducible() -> None:
    assert extract(DOCUMENT) == DOCUMENT
    assert DOCUMENT["info"]["version"] == "2.74.00"
    assert set(USED_PATHS) == set(DOCUMENT["paths"])


async def test_responses_match_the_openapi_subset() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Kontrakt AS")
        open_call = Checked(sim, None)
        session = await open_call(
            "POST",
            "/token/session/:create",
            json={
                "consumerToken": company.consumer_token,
                "employeeToken": company.employee_token,
                "expirationDate": "2099-01-01",
            },
        )
        await open_call("GET", "/event")
        tenant = Tenant(company, session.json()["value"]["token"])
        call = Checked(sim, tenant)
        employee_id = company.api_employee_id

        await call("GET", "/token/session/>whoAmI")
        await call("GET", "/token/session/>whoAmI", params={"fields": "*,employee(*),company(*)"})
        employee = await call(
            "POST",
            "/employee",
            json={
                "firstName": "Ida",
                "lastName": "Berg",
                "email": "ida@x.no",
                "userType": "STANDARD",
                "employeeNumber": "7",
            },
        )
        await call(
            "PUT",
            "/employee/{id}",
            {"id": employee.json()["value"]["id"]},
            json={"phoneNumberMobile": "12345678"},
        )
        await call("GET", "/employee", params={"employeeNumber": "7"})
        await call("GET", "/employee/{id}", {"id": employee_id})
        await call("POST", "/employee", json={"firstName": "Uten"})  # 422 envelope
        customer = await call(
            "POST",
            "/customer",
            json={"name": "Kunde", "invoiceSendMethod": "EMAIL", "invoiceEmail": "f@k.no"},
        )
        customer_id = customer.json()["value"]["id"]
        await call("GET", "/customer", params={"customerAccountNumber": "10000", "fields": "*,changes"})
        await call("GET", "/customer/{id}", {"id": customer_id})
        await call("PUT", "/customer/{id}", {"id": customer_id}, json={"name": "Kunde 2", "version": 0})
        await call("PUT", "/customer/{id}", {"id": customer_id}, json={"name": "Stale", "version": 0})  # 409
        project = await call(
            "POST",
            "/project",
            json={
                "name": "Bad",
                "number": "A12.3",
                "projectManager": {"id": employee_id},
                "startDate": "2026-01-01",
                "customer": {"id": customer_id},
            },
        )
        project_id = project.json()["value"]["id"]
        await call("GET", "/project", params={"number": "A12.3", "fields": "*,projectManager(*),customer(*)"})
        await call("GET", "/project/{id}", {"id": project_id})
        await call("GET", "/project/number/{number}", {"number": "A12.3"})
        await call("PUT", "/project/{id}", {"id": project_id}, json={"isClosed": True})
        await call(
            "POST",
            "/project/list",
            json=[{"name": "L1", "projectManager": {"id": employee_id}, "startDate": "2026-02-01"}],
        )
        await call("PUT", "/project/list", json=[{"id": project_id, "description": "batch"}])
        participant = await call(
            "POST",
            "/project/participant",
            json={"project": {"id": project_id}, "employee": {"id": employee_id}},
        )
        await call("GET", "/project/participant/{id}", {"id": participant.json()["value"]["id"]})
        await call(
            "PUT",
            "/project/participant/{id}",
            {"id": participant.json()["value"]["id"]},
            json={"adminAccess": True},
        )
        activity = await call(
            "POST",
            "/activity",
            json={"name": "Arbeid", "number": "10", "activityType": "PROJECT_GENERAL_ACTIVITY", "rate": 950},
        )
        activity_id = activity.json()["value"]["id"]
        more = await call(
            "POST",
            "/employee/list",
            json=[{"firstName": "Per", "lastName": "Li", "userType": "NO_ACCESS"}],
        )
        await call(
            "POST",
            "/project/participant/list",
            json=[{"project": {"id": project_id}, "employee": {"id": more.json()["values"][0]["id"]}}],
        )
        await call("POST", "/customer/list", json=[{"name": "Batch AS"}])
        await call("PUT", "/customer/list", json=[{"id": customer_id, "phoneNumber": "22 22 22 22"}])
        await call("POST", "/activity/list", json=[{"name": "Reise", "activityType": "GENERAL_ACTIVITY"}])
        await call("GET", "/activity", params={"number": "10"})
        await call("GET", "/activity/{id}", {"id": activity_id})
        await call("GET", "/activity/>forTimeSheet", params={"projectId": project_id})
        link = await call(
            "POST",
            "/project/projectActivity",
            json={"project": {"id": project_id}, "activity": {"id": activity_id}},
        )
        await call("GET", "/project/projectActivity/{id}", {"id": link.json()["value"]["id"]})
        rate = await call(
            "POST",
            "/project/hourlyRates",
            json={
                "project": {"id": project_id},
                "startDate": "2026-01-01",
                "hourlyRateModel": "TYPE_FIXED_HOURLY_RATE",
                "fixedRate": 900,
            },
        )
        await call("GET", "/project/hourlyRates", params={"projectId": project_id})
        await call("GET", "/project/hourlyRates/{id}", {"id": rate.json()["value"]["id"]})
        entry_body = {
            "project": {"id": project_id},
            "activity": {"id": activity_id},
            "employee": {"id": employee_id},
            "date": "2026-03-02",
            "hours": 7.5,
        }
        entry = await call("POST", "/timesheet/entry", json=entry_body)
        entry_id = entry.json()["value"]["id"]
        await call("GET", "/timesheet/entry", params={"dateFrom": "2026-03-01", "dateTo": "2026-04-01"})
        await call("GET", "/timesheet/entry/{id}", {"id": entry_id})
        await call("PUT", "/timesheet/entry/{id}", {"id": entry_id}, json={**entry_body, "hours": 6})
        await call("POST", "/timesheet/entry/list", json=[{**entry_body, "date": "2026-03-03"}])
        await call("PUT", "/timesheet/entry/list", json=[{**entry_body, "id": entry_id, "hours": 5}])
        await call("DELETE", "/timesheet/entry/{id}", {"id": entry_id})

        accounts = await call("GET", "/ledger/account", params={"number": "1500,3000"})
        account_ids = {a["number"]: a["id"] for a in accounts.json()["values"]}
        await call("GET", "/ledger/account/{id}", {"id": account_ids[1500]})
        new_account = await call("POST", "/ledger/account", json={"number": 3010, "name": "Salg tjenester"})
        await call(
            "PUT",
            "/ledger/account/{id}",
            {"id": new_account.json()["value"]["id"]},
            json={"description": "x"},
        )
        vat = await call("GET", "/ledger/vatType", params={"number": "3"})
        vat_id = vat.json()["values"][0]["id"]
        await call("GET", "/ledger/vatType/{id}", {"id": vat_id})
        await call("GET", "/ledger/voucherType", params={"name": "Memorial"})
        voucher = await call(
            "POST",
            "/ledger/voucher",
            json={
                "date": "2026-03-15",
                "description": "Faktura 1",
                "externalVoucherNumber": "inv-1",
                "postings": [
                    {
                        "row": 1,
                        "account": {"id": account_ids[1500]},
                        "customer": {"id": customer_id},
                        "amountGross": 500,
                    },
                    {
                        "row": 2,
                        "account": {"id": account_ids[3000]},
                        "vatType": {"id": vat_id},
                        "amountGross": -500,
                    },
                ],
            },
        )
        voucher_id = voucher.json()["value"]["id"]
        await call(
            "GET",
            "/ledger/voucher",
            params={"dateFrom": "2026-03-01", "dateTo": "2026-04-01", "fields": "*,postings(*)"},
        )
        await call("GET", "/ledger/voucher/{id}", {"id": voucher_id})
        await call("GET", "/ledger/voucher/>externalVoucherNumber", params={"externalVoucherNumber": "inv-1"})
        await call(
            "PUT", "/ledger/voucher/{id}", {"id": voucher_id}, json={"description": "Faktura 1 (rettet)"}
        )
        uploaded = await call(
            "POST",
            "/ledger/voucher/{voucherId}/attachment",
            {"voucherId": voucher_id},
            files={"file": ("f.pdf", PDF, "application/pdf")},
        )
        document_id = uploaded.json()["value"]["attachment"]["id"]
        await call("GET", "/document/{id}", {"id": document_id})
        postings = await call(
            "GET", "/ledger/posting", params={"dateFrom": "2026-03-01", "dateTo": "2026-04-01"}
        )
        await call("GET", "/ledger/posting/{id}", {"id": postings.json()["values"][0]["id"]})
        await call("PUT", "/ledger/posting/:closePostings", json=[postings.json()["values"][0]["id"]])
        await call("GET", "/document/{id}/content", {"id": document_id})
        await call("DELETE", "/ledger/voucher/{voucherId}/attachment", {"voucherId": voucher_id})
        await call(
            "PUT",
            "/ledger/voucher/{id}",
            {"id": voucher_id},
            json={
                "postings": [
                    {
                        "row": 1,
                        "account": {"id": account_ids[1500]},
                        "customer": {"id": customer_id},
                        "amountGross": 625,
                    },
                    {
                        "row": 2,
                        "account": {"id": account_ids[3000]},
                        "vatType": {"id": vat_id},
                        "amountGross": -625,
                    },
                ]
            },
        )
        draft = await call(
            "POST",
            "/ledger/voucher",
            params={"sendToLedger": "false"},
            json={
                "date": "2026-03-16",
                "description": "Kladd",
                "postings": [
                    {"row": 1, "account": {"id": account_ids[3000]}, "amountGross": 10},
                    {"row": 2, "account": {"id": account_ids[3000]}, "amountGross": -10},
                ],
            },
        )
        assert draft.json()["value"]["tempNumber"] == 1
        await call("DELETE", "/ledger/voucher/{id}", {"id": draft.json()["value"]["id"]})

        seeded = await sim.client.post(
            f"/_sim/companies/{company.id}/invoices",
            json={"customerId": customer_id, "amount": 1000, "invoiceDate": "2026-03-10"},
        )
        invoice_id = seeded.json()["id"]
        payment_types = await call("GET", "/invoice/paymentType")
        await call("GET", "/invoice", params={"invoiceDateFrom": "2026-03-01", "invoiceDateTo": "2026-04-01"})
        await call("GET", "/invoice/{id}", {"id": invoice_id})
        await call(
            "PUT",
            "/invoice/{id}/:payment",
            {"id": invoice_id},
            params={
                "paymentDate": "2026-03-20",
                "paymentTypeId": payment_types.json()["values"][0]["id"],
                "paidAmount": 1000,
            },
        )

        subscription = await call(
            "POST",
            "/event/subscription",
            json={"event": "voucher.create", "targetUrl": "https://example.invalid/hook"},
        )
        sub_id = subscription.json()["value"]["id"]
        await call("GET", "/event/subscription")
        await call("GET", "/event/subscription/{id}", {"id": sub_id})
        await call("PUT", "/event/subscription/{id}", {"id": sub_id}, json={"status": "DISABLED"})
        await call("DELETE", "/event/subscription/{id}", {"id": sub_id})
        await call("DELETE", "/project/{id}", {"id": project_id})  # 422: has hours
        spare = await call(
            "POST",
            "/project",
            json={
                "name": "Med deltakere",
                "projectManager": {"id": employee_id},
                "startDate": "2026-01-01",
                "participants": [{"employee": {"id": employee_id}, "adminAccess": True}],
                "projectActivities": [{"activity": {"id": activity_id}}],
            },
        )
        spare_value = spare.json()["value"]
        assert len(spare_value["participants"]) == 1 and len(spare_value["projectActivities"]) == 1
        await call(
            "DELETE",
            "/project/participant/list",
            params={"ids": str(spare_value["participants"][0]["id"])},
        )
        await call(
            "DELETE",
            "/project/projectActivity/list",
            params={"ids": str(spare_value["projectActivities"][0]["id"])},
        )
        await call("DELETE", "/project", json=[{"id": spare_value["id"]}])
        await call("DELETE", "/project/list", params={"ids": str(spare_value["id"])})  # 404 now
        await call("GET", "/project/{id}", {"id": 1})  # 404 envelope
        await call("DELETE", "/token/session/{token}", {"token": tenant.token})

        covered = call.covered | open_call.covered
        untested = {path for path in USED_PATHS if not any(template == path for _, template in covered)} - {
            "/customer/list",
            "/employee/list",
            "/project/participant/list",
            "/document/{id}/content",
        }
        assert untested == set()
