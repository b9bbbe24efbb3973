"""Tripletex's error envelope and the error codes the simulator raises.

Body shape and codes come from REFERENCE.md §4: `{status, code, message, link,
developerMessage, validationMessages[{field, message, path, rootId}], requestId}`.
Message texts are Tripletex's own where the reference quotes them; the others are marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOCS_LINK = "https://tripletex.no/v2-docs/"

# Quoted in REFERENCE.md.
NOT_NULL = "Kan ikke være null."
MUST_BE_FILLED = "Feltet må fylles ut."
UNKNOWN_FIELD = "Feltet eksisterer ikke i objektet."
ID_ON_CREATE = "ID kan ikke settes når man oppretter et objekt"
VALIDATION_FAILED = "Validering feilet."
EMAIL_TAKEN = "Det finnes allerede en bruker med denne e-postadressen"
USER_TYPE_EMPTY = "Brukertype kan ikke være «0» eller tom"
NOT_PROJECT_MANAGER = "Oppgitt prosjektleder har ikke fått tilgang som prosjektleder i kontoen"
CUSTOMER_MISSING = "Kunde mangler"
SUPPLIER_MISSING = "Leverandør mangler"
EMPLOYEE_MISSING = "Ansatt mangler"
RESULT_SET_TOO_LARGE = "Result set too large. Limit of 10.000 reached."
CONSUMER_TOKEN_INVALID = "The consumer token is invalid or does not exist"
COULD_NOT_LOG_IN = "Could not log in"
REVISION_EXCEPTION = "Revision Exception"

# Assumptions: the reference gives only a fragment or nothing; chosen to read like Tripletex.
NUMBER_IN_USE = "Nummeret er i bruk."
VERSION_ON_CREATE = "Versjon kan ikke settes når man oppretter et objekt"
OBJECT_NOT_FOUND = "Object not found"
REFERENCED_OBJECT_MISSING = "Objektet finnes ikke."
WRONG_TYPE = "Verdien har feil format."
INVALID_ENUM = "Ugyldig verdi."
EMPLOYEE_TOKEN_INVALID = "The employee token is invalid or does not exist"
VOUCHER_NOT_BALANCED = "Bilaget er ikke i balanse. Summen av posteringene må være 0."
ROW_ZERO_SYSTEM_GENERATED = "Rad 0 er reservert for systemgenererte posteringer. Bruk rad 1 eller høyere."
ACTIVITY_NOT_USABLE = "Aktiviteten kan ikke benyttes på dette prosjektet."
NOT_PARTICIPANT = "Den ansatte er ikke deltaker på prosjektet."
TIMESHEET_DUPLICATE = (
    "Det finnes allerede en timeføring for denne ansatte, datoen, aktiviteten og prosjektet."
)
ENTRY_LOCKED = "Timeføringen er låst og kan ikke endres."
OUTGOING_INVOICE_TYPE = "Bilagstypen Utgående faktura kan ikke brukes på nye bilag."
TOO_LONG = "Verdien er for lang."
RATE_LIMITED = "Too many requests"
INTERNAL_ERROR = "Internal error (simulated)"


@dataclass(frozen=True)
class ValidationMessage:
    """One entry of `validationMessages`."""

    field: str
    message: str
    path: str | None = None
    root_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "message": self.message,
            "path": self.path if self.path is not None else self.field,
            "rootId": self.root_id,
        }


class TripletexError(Exception):
    """An error response in Tripletex's envelope; raised anywhere, rendered once in app.py."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        developer_message: str | None = None,
        validation_messages: list[ValidationMessage] | None = None,
    ) -> None:
        super().__init__(f"{status}/{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.developer_message = developer_message
        self.validation_messages = validation_messages

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "link": DOCS_LINK,
            "developerMessage": self.developer_message,
            "validationMessages": (
                [m.to_json() for m in self.validation_messages]
                if self.validation_messages is not None
                else None
            ),
            "requestId": request_id,
        }


def validation_failed(messages: list[ValidationMessage], code: int = 18000) -> TripletexError:
    return TripletexError(422, code, VALIDATION_FAILED, validation_messages=messages)


def field_error(field: str, message: str, *, path: str | None = None, code: int = 18000) -> TripletexError:
    return validation_failed([ValidationMessage(field, message, path)], code=code)


def not_found(what: str = "") -> TripletexError:
    return TripletexError(404, 6000, OBJECT_NOT_FOUND, developer_message=what or None)


def unauthorized() -> TripletexError:
    return TripletexError(401, 3000, COULD_NOT_LOG_IN)


def revision_conflict(stored: int, sent: int) -> TripletexError:
    return TripletexError(
        409,
        8000,
        REVISION_EXCEPTION,
        developer_message=f"The object has version {stored}; the request was based on version {sent}.",
    )


def illegal_fields_filter(field: str) -> TripletexError:
    """400 for an unknown name in `fields` (REFERENCE §2); code 11000 'illegal filter' is an assumption."""
    return TripletexError(400, 11000, f"Illegal field in fields filter: {field}")


def bad_request(message: str, code: int = 4000) -> TripletexError:
    return TripletexError(400, code, message)


def missing_param(name: str) -> TripletexError:
    """A required query parameter is absent: 422 code 21000 ('param'), per REFERENCE §4's code table."""
    return field_error(name, NOT_NULL, code=21000)


def invalid_param(name: str, message: str = WRONG_TYPE) -> TripletexError:
    return field_error(name, message, code=21000)
