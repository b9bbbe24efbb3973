"""`/token/session/...`: minting and ending session tokens (REFERENCE §1).

Minting needs no auth. The token is valid until midnight (Oslo) starting the
`expirationDate`, so a token minted for today is born expired; see `state.Session`.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from services.tripletex.simulator import validation
from services.tripletex.simulator.envelopes import fields_tree, read_json
from services.tripletex.simulator.errors import (
    CONSUMER_TOKEN_INVALID,
    EMPLOYEE_TOKEN_INVALID,
    NOT_NULL,
    ValidationMessage,
    field_error,
    not_found,
    validation_failed,
)
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.spec import catalog
from services.tripletex.simulator.state import SimulatorState


async def create_session_post(request: Request) -> Response:
    body = await read_json(request)
    parsed = validation.parse_object(body, "PostSessionTokenBody", catalog(), creating=False)
    return _mint(
        request, parsed.get("consumerToken"), parsed.get("employeeToken"), parsed.get("expirationDate"), 201
    )


async def create_session_put(request: Request) -> Response:
    params = request.query_params
    missing = [
        ValidationMessage(n, NOT_NULL)
        for n in ("consumerToken", "employeeToken", "expirationDate")
        if not params.get(n)
    ]
    if missing:
        raise validation_failed(missing, code=21000)
    return _mint(request, params["consumerToken"], params["employeeToken"], params["expirationDate"], 200)


def _mint(
    request: Request, consumer: str | None, employee: str | None, expiration: str | None, status: int
) -> Response:

    state: SimulatorState = request.app.state.simulator
    missing = [
        ValidationMessage(name, NOT_NULL)
        for name, value in (
            ("consumerToken", consumer),
            ("employeeToken", employee),
            ("expirationDate", expiration),
        )
        if not value
    ]
    if missing:
        raise validation_failed(missing)
    assert consumer and employee and expiration
    try:
        expires = date.fromisoformat(expiration)
    except ValueError as exc:
        raise field_error("expirationDate", "Verdien har feil format.", code=16000) from exc
    company = state.company_by_employee_token(employee)
    if company is None and not _known_consumer(state, consumer):
        raise field_error("consumerToken", CONSUMER_TOKEN_INVALID)
    if company is None:
        raise field_error("employeeToken", EMPLOYEE_TOKEN_INVALID)
    if company.consumer_token != consumer:
        raise field_error("consumerToken", CONSUMER_TOKEN_INVALID)
    session = state.mint_session(company, expires)
    host = request.headers.get("host", "localhost")
    ctx = Ctx(state, company, session.employee_id, host)
    value = {
        "id": session.id,
        "version": 0,
        "consumerToken": {"id": company.id, "token": consumer},
        "employeeToken": {"id": company.id, "token": employee},
        "expirationDate": session.expiration_date.isoformat(),
        "token": session.token,
        "encryptionKey": None,
    }
    tree = fields_tree(request, "SessionToken")
    return JSONResponse({"value": ctx.render("SessionToken", value, tree)}, status_code=status)


def _known_consumer(state: SimulatorState, consumer: str) -> bool:
    return any(c.consumer_token == consumer for c in state.companies.values())


async def delete_session(request: Request) -> Response:
    state = request.app.state.simulator
    token = request.path_params["token"]
    if state.sessions.pop(token, None) is None:
        raise not_found("session")
    return Response(status_code=204)
