"""Reading Tripletex requests and writing its envelopes.

Handlers read the raw request themselves (JSON body, path and query parameters) so every
malformed input gets Tripletex's error envelope rather than FastAPI's; responses are
`{value}` or `{fullResultSize, from, count, versionDigest, values}` shaped by `fields`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from services.tripletex.simulator import fields_filter, search
from services.tripletex.simulator.errors import TripletexError, bad_request
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.spec import catalog

Row = dict[str, Any]

# Response envelopes with extras (REFERENCE §2).
_LIST_EXTRAS: dict[str, Callable[[list[Row]], Row]] = {
    "TimesheetEntry": lambda rows: {"sumAllHours": round(sum(float(r.get("hours") or 0) for r in rows), 2)},
    "Voucher": lambda rows: {"totalNumberOfPostings": sum(len(r.get("postings") or []) for r in rows)},
}


def ctx_of(request: Request) -> Ctx:
    ctx = getattr(request.state, "ctx", None)
    assert isinstance(ctx, Ctx), "auth middleware did not run"
    return ctx


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise TripletexError(422, 22000, "Request body mangler.")
    try:
        return json.loads(raw)
    except ValueError as exc:
        # A JSON parse error is 422, not 500 [changelog 2.13.2].
        raise TripletexError(422, 22000, "Ugyldig JSON.", developer_message=str(exc)) from exc


def path_int(request: Request, name: str = "id") -> int:
    raw = request.path_params[name]
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"Illegal path parameter {name}: {raw}", code=12000) from exc


def fields_tree(request: Request, schema: str) -> fields_filter.FieldTree:
    tree = fields_filter.parse(request.query_params.get("fields"))
    fields_filter.check(catalog(), schema, tree)
    return tree


def single(request: Request, schema: str, row: Row, status: int = 200) -> JSONResponse:
    ctx = ctx_of(request)
    return JSONResponse({"value": ctx.render(schema, row, fields_tree(request, schema))}, status_code=status)


def listing(
    request: Request,
    schema: str,
    rows: list[Row],
    *,
    status: int = 200,
    paged: bool = True,
    search_envelope: bool = False,
) -> Response:
    """List envelope; `search_envelope` adds the extras of TimesheetEntrySearchResponse /
    VoucherSearchResponse, which only the search GETs return."""
    ctx = ctx_of(request)
    tree = fields_tree(request, schema)
    rows = search.sort_rows(rows, request.query_params.get("sorting"), set(catalog().fields(schema)))
    if paged:
        window, start = search.page(rows, request.query_params)
    else:
        window, start = rows, 0
    digest = None
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        digest = search.version_digest(rows)
        if if_none_match.strip('"') == digest:
            return Response(status_code=304)
    body: Row = {
        "fullResultSize": len(rows),
        "from": start,
        "count": len(window),
        "versionDigest": digest,
        "values": [ctx.render(schema, row, tree) for row in window],
    }
    extra = _LIST_EXTRAS.get(schema) if search_envelope else None
    if extra is not None:
        body.update(extra(rows))
    return JSONResponse(body, status_code=status)
