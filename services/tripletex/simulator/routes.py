"""The `/v2` surface: Tripletex paths wired to the generic operations in `resources.py`,
plus the few endpoints that are not plain CRUD (attachments, payments, closing postings)."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.tripletex.simulator import ledger, resources, search, validation
from services.tripletex.simulator.envelopes import ctx_of, fields_tree, listing, path_int, read_json, single
from services.tripletex.simulator.errors import (
    NOT_NULL,
    TripletexError,
    ValidationMessage,
    field_error,
    invalid_param,
    missing_param,
    not_found,
    validation_failed,
)
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.rules import activity_usable, event_names
from services.tripletex.simulator.search_filters import SEARCHES
from services.tripletex.simulator.sessions import create_session_post, create_session_put, delete_session
from services.tripletex.simulator.spec import catalog

Row = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]


def _ref(row: Row, name: str) -> int | None:
    value = row.get(name)
    return value.get("id") if isinstance(value, dict) else None


def _searchable_rows(ctx: Ctx, schema: str) -> list[Row]:
    rows = list(ctx.company.table(schema).values())
    if schema == "Project":
        participants = list(ctx.company.table("ProjectParticipant").values())
        return [
            {**r, "_participantRows": [p for p in participants if _ref(p, "project") == r["id"]]}
            for r in rows
        ]
    return rows


def _strip(rows: list[Row]) -> list[Row]:
    return [{k: v for k, v in r.items() if k != "_participantRows"} for r in rows]


# -- generic endpoint factories ----------------------------------------------------------
def _search_handler(schema: str, spec_name: str | None = None) -> Handler:
    spec = SEARCHES[spec_name or schema]

    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        fields_tree(request, schema)
        rows = _strip(search.select(_searchable_rows(ctx, schema), spec, request.query_params))
        return listing(request, schema, rows, search_envelope=True)

    return handler


def _get_handler(schema: str, param: str = "id") -> Handler:
    async def handler(request: Request) -> Response:
        return single(request, schema, resources.fetch(ctx_of(request), schema, path_int(request, param)))

    return handler


def _create_handler(schema: str) -> Handler:
    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        obj = validation.parse_object(await read_json(request), schema, catalog(), creating=True)
        if schema == "Voucher":
            raw = request.query_params.get("sendToLedger")
            obj[ledger.SEND_TO_LEDGER] = True if raw is None else search.parse_bool("sendToLedger", raw)
        return single(request, schema, resources.create(ctx, schema, obj), status=201)

    return handler


def _update_handler(schema: str, replace_fields: tuple[str, ...] = ()) -> Handler:
    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        patch = validation.parse_object(await read_json(request), schema, catalog(), creating=False)
        row = resources.update(ctx, schema, path_int(request), patch, replace_fields=replace_fields)
        return single(request, schema, row)

    return handler


def _delete_handler(schema: str, with_version: bool = False) -> Handler:
    async def handler(request: Request) -> Response:
        version = None
        raw = request.query_params.get("version")
        if with_version and raw:
            try:
                version = int(raw)
            except ValueError as exc:
                raise invalid_param("version") from exc
        resources.delete(ctx_of(request), schema, path_int(request), version)
        return Response(status_code=204)

    return handler


def _rollback(ctx: Ctx, schema: str, created: list[Row], snapshots: dict[int, Row]) -> None:
    table = ctx.company.table(schema)
    rules = ctx.rules(schema)
    for row in created:
        table.pop(row["id"], None)
        rules.after_delete(ctx, row)
    for object_id, snapshot in snapshots.items():
        table[object_id] = snapshot


def _post_list_handler(schema: str) -> Handler:
    """Batch create. Undocumented whether Tripletex batches are atomic; assumption: they are
    (all created or none, the error names the element index in `path`)."""

    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        objs = validation.parse_list(await read_json(request), schema, catalog(), creating=True)
        created: list[Row] = []
        for index, obj in enumerate(objs):
            try:
                created.append(resources.create(ctx, schema, obj, emit=False))
            except TripletexError as exc:
                _rollback(ctx, schema, created, {})
                validation.prefix_paths(exc, f"[{index}]")
                raise
        for row in created:
            resources.emit_event(ctx, schema, "create", row)
        return listing(request, schema, created, status=201, paged=False)

    return handler


def _put_list_handler(schema: str, replace_fields: tuple[str, ...] = ()) -> Handler:
    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        objs = validation.parse_list(await read_json(request), schema, catalog(), creating=False)
        snapshots: dict[int, Row] = {}
        updated: list[Row] = []
        for index, obj in enumerate(objs):
            object_id = obj.get("id")
            try:
                if object_id is None:
                    raise field_error("id", NOT_NULL)
                current = resources.fetch(ctx, schema, int(object_id))
                snapshots.setdefault(current["id"], copy.deepcopy(current))
                updated.append(
                    resources.update(
                        ctx, schema, int(object_id), obj, replace_fields=replace_fields, emit=False
                    )
                )
            except TripletexError as exc:
                _rollback(ctx, schema, [], snapshots)
                validation.prefix_paths(exc, f"[{index}]")
                raise
        for object_id, snapshot in snapshots.items():
            row = ctx.company.table(schema)[object_id]
            if row.get("version") != snapshot.get("version"):
                resources.emit_event(ctx, schema, "update", row)
        return listing(request, schema, updated, paged=False)

    return handler


def _delete_list_handler(schema: str) -> Handler:
    async def handler(request: Request) -> Response:
        raw = request.query_params.get("ids")
        if not raw:
            raise missing_param("ids")
        ctx = ctx_of(request)
        ids = sorted(search.parse_ids("ids", raw))
        for object_id in ids:
            resources.fetch(ctx, schema, object_id)
        for object_id in ids:
            resources.delete(ctx, schema, object_id)
        return Response(status_code=204)

    return handler


def _delete_body_handler(schema: str) -> Handler:
    """`DELETE /project` with a JSON array of objects (by `id`) in the body."""

    async def handler(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, list) or not all(isinstance(i, dict) and i.get("id") for i in body):
            raise field_error("id", NOT_NULL)
        ctx = ctx_of(request)
        ids = [int(item["id"]) for item in body]
        for object_id in ids:
            resources.fetch(ctx, schema, object_id)
        for object_id in ids:
            resources.delete(ctx, schema, object_id)
        return Response(status_code=204)

    return handler


# -- special endpoints -----------------------------------------------------------------
async def who_am_i(request: Request) -> Response:
    ctx = ctx_of(request)
    info = {
        "employeeId": ctx.employee_id,
        "actualEmployeeId": ctx.employee_id,
        "employee": {"id": ctx.employee_id},
        "companyId": ctx.company.id,
        "company": {"id": ctx.company.id},
        "language": "NO",
        "loggedInWithConnect": False,
        "employeeIsProxy": False,
    }
    return single(request, "LoggedInUserInfo", info)


async def project_by_number(request: Request) -> Response:
    ctx = ctx_of(request)
    number = request.path_params["number"]
    row = next((p for p in ctx.company.table("Project").values() if p.get("number") == number), None)
    if row is None:
        raise not_found(f"project number {number}")
    return single(request, "Project", row)


async def voucher_by_external_number(request: Request) -> Response:
    ctx = ctx_of(request)
    rows = search.select(
        ctx.company.table("Voucher").values(), SEARCHES["VoucherByExternalNumber"], request.query_params
    )
    if not request.query_params.get("externalVoucherNumber"):
        rows = []
    return listing(request, "Voucher", rows)


async def upload_attachment(request: Request) -> Response:
    from services.tripletex.simulator.multipart import parse_form_file

    ctx = ctx_of(request)
    voucher_id = path_int(request, "voucherId")
    resources.fetch(ctx, "Voucher", voucher_id)
    upload = parse_form_file(request.headers.get("content-type", ""), await request.body(), "file")
    if upload is None:
        raise field_error("file", NOT_NULL)
    voucher = ledger.attach(ctx, voucher_id, upload.filename, upload.content_type, upload.content)
    return single(request, "Voucher", voucher, status=201)


async def delete_attachment(request: Request) -> Response:
    raw = request.query_params.get("version")
    version = int(raw) if raw and raw.lstrip("-").isdigit() else None
    ledger.detach(ctx_of(request), path_int(request, "voucherId"), version)
    return Response(status_code=204)


async def document_content(request: Request) -> Response:
    ctx = ctx_of(request)
    document = resources.fetch(ctx, "Document", path_int(request))
    return Response(
        ctx.company.files.get(document["id"], b""),
        media_type=document.get("mimeType") or "application/octet-stream",
    )


async def close_postings(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in body):
        raise field_error("postingIds", "Verdien har feil format.", code=16000)
    problems = ledger.close_postings(ctx_of(request), body)
    payload = {
        "fullResultSize": len(problems),
        "from": 0,
        "count": len(problems),
        "versionDigest": None,
        "values": problems,
    }
    return JSONResponse(payload)


async def invoice_payment(request: Request) -> Response:
    params = request.query_params
    missing = [
        ValidationMessage(n, NOT_NULL)
        for n in ("paymentDate", "paymentTypeId", "paidAmount")
        if not params.get(n)
    ]
    if missing:
        raise validation_failed(missing, code=21000)
    payment_date = search.parse_date("paymentDate", params["paymentDate"]).isoformat()
    try:
        payment_type_id = int(params["paymentTypeId"])
        paid_amount = float(params["paidAmount"])
        paid_currency = float(params["paidAmountCurrency"]) if params.get("paidAmountCurrency") else None
    except ValueError as exc:
        raise invalid_param("paidAmount") from exc
    invoice = ledger.register_payment(
        ctx_of(request), path_int(request), payment_date, payment_type_id, paid_amount, paid_currency
    )
    return single(request, "Invoice", invoice)


async def activities_for_timesheet(request: Request) -> Response:
    """`GET /activity/>forTimeSheet?projectId=`: the activities hours on that project can use."""
    ctx = ctx_of(request)
    raw = request.query_params.get("projectId")
    if not raw:
        raise missing_param("projectId")
    project = resources.fetch(ctx, "Project", path_or_param_int("projectId", raw))
    rows = [a for a in ctx.company.table("Activity").values() if activity_usable(ctx, a, project)]
    rows = search.select(rows, SEARCHES["ActivityForTimeSheet"], request.query_params)
    return listing(request, "Activity", rows)


def path_or_param_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise invalid_param(name) from exc


async def delete_employee(request: Request) -> Response:
    """Not in the spec; [wild] lisamariet/cc-tripletex saw `DELETE /employee/{id}` answer 403."""
    raise TripletexError(403, 9000, "Du har ikke tilgang til å slette ansatte.")


async def list_events(request: Request) -> Response:
    """`GET /event`: no auth needed (changelog 2.56.4)."""
    descriptions = {
        "create": "Sendes når et objekt opprettes.",
        "update": "Sendes når et objekt endres.",
        "delete": "Sendes når et objekt slettes.",
    }
    value = {name: {"description": descriptions[name.split(".")[1]]} for name in event_names()}
    return JSONResponse({"value": value})


# -- wiring ----------------------------------------------------------------------------
UNAUTHENTICATED: frozenset[tuple[str, str]] = frozenset(
    {("POST", "/v2/token/session/:create"), ("PUT", "/v2/token/session/:create"), ("GET", "/v2/event")}
)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v2")

    def add(path: str, handler: Handler, *methods: str) -> None:
        router.add_api_route(path, handler, methods=list(methods), include_in_schema=False)

    add("/token/session/:create", create_session_post, "POST")
    add("/token/session/:create", create_session_put, "PUT")
    add("/token/session/>whoAmI", who_am_i, "GET")
    add("/token/session/{token}", delete_session, "DELETE")

    def crud(
        path: str,
        schema: str,
        *,
        put: bool = True,
        delete: bool = False,
        searchable: bool = True,
        replace: tuple[str, ...] = (),
        delete_version: bool = False,
    ) -> None:
        if searchable:
            add(path, _search_handler(schema), "GET")
        add(path, _create_handler(schema), "POST")
        add(f"{path}/{{id}}", _get_handler(schema), "GET")
        if put:
            add(f"{path}/{{id}}", _update_handler(schema, replace), "PUT")
        if delete:
            add(f"{path}/{{id}}", _delete_handler(schema, delete_version), "DELETE")

    add("/project/list", _post_list_handler("Project"), "POST")
    add("/project/list", _put_list_handler("Project"), "PUT")
    add("/project/list", _delete_list_handler("Project"), "DELETE")
    add("/project/number/{number}", project_by_number, "GET")
    add("/project/participant/list", _post_list_handler("ProjectParticipant"), "POST")
    add("/project/participant/list", _delete_list_handler("ProjectParticipant"), "DELETE")
    crud("/project/participant", "ProjectParticipant", searchable=False)
    add("/project/projectActivity/list", _delete_list_handler("ProjectActivity"), "DELETE")
    crud("/project/projectActivity", "ProjectActivity", put=False, delete=True, searchable=False)
    crud("/project/hourlyRates", "ProjectHourlyRate", delete=True)
    crud("/project", "Project", delete=True)
    add("/project", _delete_body_handler("Project"), "DELETE")

    add("/customer/list", _post_list_handler("Customer"), "POST")
    add("/customer/list", _put_list_handler("Customer"), "PUT")
    crud("/customer", "Customer", delete=True)

    add("/employee/list", _post_list_handler("Employee"), "POST")
    add("/employee/{id}", delete_employee, "DELETE")
    crud("/employee", "Employee")

    add("/activity/list", _post_list_handler("Activity"), "POST")
    add("/activity/>forTimeSheet", activities_for_timesheet, "GET")
    crud("/activity", "Activity", put=False)

    timesheet_replace = (
        "project",
        "activity",
        "date",
        "hours",
        "employee",
        "comment",
        "projectChargeableHours",
    )
    add("/timesheet/entry/list", _post_list_handler("TimesheetEntry"), "POST")
    add("/timesheet/entry/list", _put_list_handler("TimesheetEntry", timesheet_replace), "PUT")
    crud("/timesheet/entry", "TimesheetEntry", delete=True, replace=timesheet_replace, delete_version=True)

    crud("/ledger/account", "Account", delete=True)
    add("/ledger/vatType", _search_handler("VatType"), "GET")
    add("/ledger/vatType/{id}", _get_handler("VatType"), "GET")
    add("/ledger/voucherType", _search_handler("VoucherType"), "GET")
    add("/ledger/voucher/>externalVoucherNumber", voucher_by_external_number, "GET")
    add("/ledger/voucher/{voucherId}/attachment", upload_attachment, "POST")
    add("/ledger/voucher/{voucherId}/attachment", delete_attachment, "DELETE")
    crud("/ledger/voucher", "Voucher", delete=True)
    add("/ledger/posting/:closePostings", close_postings, "PUT")
    add("/ledger/posting", _search_handler("Posting"), "GET")
    add("/ledger/posting/{id}", _get_handler("Posting"), "GET")
    add("/document/{id}", _get_handler("Document"), "GET")
    add("/document/{id}/content", document_content, "GET")

    add("/invoice/paymentType", _search_handler("PaymentType"), "GET")
    add("/invoice/{id}/:payment", invoice_payment, "PUT")
    add("/invoice", _search_handler("Invoice"), "GET")
    add("/invoice/{id}", _get_handler("Invoice"), "GET")

    add("/event", list_events, "GET")
    crud("/event/subscription", "Subscription", delete=True)
    return router
