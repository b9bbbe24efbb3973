"""Stable error codes of the error log (S-X1), with what a user reads in the integration panel.

Every code has a Norwegian message (the users' language) with English alongside, and says what
the user can do about it. Codes are stable: dashboards, alerts and support scripts key on them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    message_no: str
    message_en: str
    action_no: str
    action_en: str


PROJECT_MISSING_START_DATE = "PROJECT_MISSING_START_DATE"
CUSTOMER_NON_NUMERIC_ID = "CUSTOMER_NON_NUMERIC_ID"
CUSTOMER_DEACTIVATE_IN_TRIPLETEX = "CUSTOMER_DEACTIVATE_IN_TRIPLETEX"
EMPLOYEE_MISSING_LAST_NAME = "EMPLOYEE_MISSING_LAST_NAME"
WRITE_REJECTED = "WRITE_REJECTED"
WRITE_CONFLICT = "WRITE_CONFLICT"
API_UNREACHABLE = "API_UNREACHABLE"
TENANT_NOT_CONNECTED = "TENANT_NOT_CONNECTED"

CATALOG: dict[str, ErrorCode] = {
    e.code: e
    for e in (
        ErrorCode(
            PROJECT_MISSING_START_DATE,
            "Prosjektet mangler startdato.",
            "The project has no start date.",
            "Sett startdato på prosjektet i Svenn; det synkroniseres ved neste endring.",
            "Set a start date on the project in Svenn; it syncs with the next change.",
        ),
        ErrorCode(
            CUSTOMER_NON_NUMERIC_ID,
            "Kunden har ikke numerisk kunde-ID.",
            "The customer's id is not numeric.",
            "Gi kunden et kundenummer med bare tall i Svenn.",
            "Give the customer a number made of digits only in Svenn.",
        ),
        ErrorCode(
            CUSTOMER_DEACTIVATE_IN_TRIPLETEX,
            "Kunder kan ikke settes inaktive fra Svenn.",
            "Customers cannot be set inactive from Svenn.",
            "Sett kunden inaktiv i Tripletex; det følger med til Svenn.",
            "Set the customer inactive in Tripletex; Svenn follows.",
        ),
        ErrorCode(
            EMPLOYEE_MISSING_LAST_NAME,
            "Ansatt mangler etternavn.",
            "The employee has no last name.",
            "Legg inn etternavn på den ansatte i Svenn.",
            "Enter the employee's last name in Svenn.",
        ),
        ErrorCode(
            WRITE_REJECTED,
            "Tripletex eller Svenn avviste endringen.",
            "Tripletex or Svenn rejected the change.",
            "Se feilmeldingen for hvilket felt som er feil, rett det, og lagre på nytt.",
            "See the message for the field at fault, correct it and save again.",
        ),
        ErrorCode(
            WRITE_CONFLICT,
            "Posten ble endret samtidig i begge systemer.",
            "The record was changed in both systems at once.",
            "Kontroller posten i begge systemer; neste endring synkroniseres.",
            "Check the record in both systems; the next change syncs.",
        ),
        ErrorCode(
            TENANT_NOT_CONNECTED,
            "Integrasjonen er ikke koblet til dette systemet.",
            "The integration is not connected to this system.",
            "Koble til Tripletex eller Svenn i integrasjonspanelet; posten synkroniseres ved neste endring.",
            "Connect Tripletex or Svenn in the integration panel; the record syncs with its next change.",
        ),
        ErrorCode(
            API_UNREACHABLE,
            "Fikk ikke kontakt med Tripletex eller Svenn.",
            "Could not reach Tripletex or Svenn.",
            "Ingenting å gjøre: synkroniseringen prøver igjen av seg selv.",
            "Nothing to do: the sync retries by itself.",
        ),
    )
}

# Raised by the rules about the record itself: resolved once a later decision accepts the record.
RULE_CODES = frozenset(
    {
        PROJECT_MISSING_START_DATE,
        CUSTOMER_NON_NUMERIC_ID,
        CUSTOMER_DEACTIVATE_IN_TRIPLETEX,
        EMPLOYEE_MISSING_LAST_NAME,
    }
)
# Raised by a writer: resolved once a later write of the record is applied.
WRITE_CODES = frozenset(CATALOG) - RULE_CODES
