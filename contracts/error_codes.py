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
TRIPLETEX_WEBHOOKS_OFF = "TRIPLETEX_WEBHOOKS_OFF"
TENANT_NOT_CONNECTED = "TENANT_NOT_CONNECTED"
MATCH_AMBIGUOUS = "MATCH_AMBIGUOUS"
DRIFTI_USER_NOT_LINKED = "DRIFTI_USER_NOT_LINKED"
DRIFTI_HOURS_NOT_APPROVED = "DRIFTI_HOURS_NOT_APPROVED"
DRIFTI_HOURS_LOCKED = "DRIFTI_HOURS_LOCKED"
DRIFTI_ACCOUNT_UNMAPPED = "DRIFTI_ACCOUNT_UNMAPPED"
DRIFTI_INVOICE_UNBALANCED = "DRIFTI_INVOICE_UNBALANCED"
DRIFTI_PAYMENT_BEFORE_SWITCH_ON = "DRIFTI_PAYMENT_BEFORE_SWITCH_ON"
RECORD_TEXT_INVALID = "RECORD_TEXT_INVALID"

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
            MATCH_AMBIGUOUS,
            "Flere poster har samme nummer eller e-post, så posten ble ikke koblet til noen av dem.",
            "More than one record has the same number or e-mail, so the record was linked to none.",
            "Slett eller gi duplikatet et eget nummer/e-post; posten synkroniseres ved neste endring.",
            "Delete the duplicate or give it its own number/e-mail; the record syncs with its next change.",
        ),
        ErrorCode(
            API_UNREACHABLE,
            "Tripletex, Svenn eller Drifti svarer ikke; endringene til dette systemet venter.",
            "Tripletex, Svenn or Drifti does not answer; the changes for it are waiting.",
            "Ingenting går tapt: endringene skrives i riktig rekkefølge så snart systemet svarer igjen. "
            "Varer det lenge, sjekk systemets driftsstatus og at integrasjonen fortsatt har tilgang.",
            "Nothing is lost: the changes are written in order as soon as it answers again. "
            "If it lasts, check the system's service status and that the integration still has access.",
        ),
        ErrorCode(
            TRIPLETEX_WEBHOOKS_OFF,
            "Tripletex sender ikke varsler om endringer til integrasjonen (webhook-abonnement av), så "
            "endringer i Tripletex kommer først med den nattlige gjennomgangen.",
            "Tripletex sends the integration no webhooks (subscriptions off), so changes made in "
            "Tripletex arrive only with the nightly pass.",
            "Integrasjonen prøver å slå dem på igjen hvert tiende minutt. Varer det, kontakt "
            "driftsteamet: integrasjonens offentlige adresse må nås fra Tripletex.",
            "The integration tries to switch them on again every ten minutes. If it lasts, contact the "
            "operators: the integration's public address must be reachable from Tripletex.",
        ),
        ErrorCode(
            DRIFTI_USER_NOT_LINKED,
            "Drifti-brukeren er ikke koblet til en ansatt i Tripletex, så timene ble ikke overført.",
            "The Drifti user is not linked to a Tripletex employee, so their hours were not exported.",
            "Gi den ansatte i Tripletex samme e-post (eller samme fulle navn) som brukeren i Drifti, "
            "eller opprett den ansatte; eksporter timene på nytt.",
            "Give the employee in Tripletex the same e-mail (or the same full name) as the user in Drifti, "
            "or create the employee; then export the hours again.",
        ),
        ErrorCode(
            DRIFTI_HOURS_NOT_APPROVED,
            "Timer i perioden er ikke godkjent i Drifti og ble ikke overført.",
            "Hours in the period are not approved in Drifti and were not exported.",
            "Godkjenn timene i Drifti og eksporter perioden på nytt; allerede overførte timer dobles ikke.",
            "Approve the hours in Drifti and export the period again; hours already sent are not doubled.",
        ),
        ErrorCode(
            DRIFTI_HOURS_LOCKED,
            "Timene er låst i Tripletex (godkjent eller fakturert) og ble ikke endret.",
            "The hours are locked in Tripletex (approved or invoiced) and were not changed.",
            "Åpne timelisten i Tripletex igjen og eksporter perioden på nytt, eller rett timene for hånd.",
            "Reopen the timesheet in Tripletex and export the period again, or correct the hours by hand.",
        ),
        ErrorCode(
            DRIFTI_ACCOUNT_UNMAPPED,
            "Fakturaen bruker en Drifti-konto som ikke er koblet til en konto i Tripletex.",
            "The invoice uses a Drifti account that is not mapped to a Tripletex account.",
            "Koble kontoen til en Tripletex-konto (tsync drifti map-account); fakturaen overføres da.",
            "Map the account to a Tripletex account (tsync drifti map-account); the invoice then transfers.",
        ),
        ErrorCode(
            DRIFTI_INVOICE_UNBALANCED,
            "Fakturaens beløp går ikke opp, så bilaget ville ikke balansere.",
            "The invoice's amounts do not add up, so its voucher would not balance.",
            "Kontroller fakturaen i Drifti og krediter den om nødvendig; kontakt support.",
            "Check the invoice in Drifti and credit it if needed; contact support.",
        ),
        ErrorCode(
            DRIFTI_PAYMENT_BEFORE_SWITCH_ON,
            "Betalingen gjelder en faktura fra før integrasjonen ble slått på, så den ble ikke bokført.",
            "The payment is for an invoice from before the integration was switched on, so it was "
            "not booked.",
            "Før betalingen i Tripletex for hånd mot fakturaen slik den ble bokført der.",
            "Book the payment by hand in Tripletex against the invoice as it was booked there.",
        ),
        ErrorCode(
            RECORD_TEXT_INVALID,
            "Posten har tekst med et tegn som ikke kan lagres eller sendes (for eksempel et usynlig "
            "kontrolltegn), eller et nummer som er for langt, så den ble ikke synkronisert.",
            "The record has text with a character that cannot be stored or sent (such as an invisible "
            "control character), or a number that is too long, so it was not synced.",
            "Skriv feltet som meldingen nevner på nytt, uten spesialtegn, i systemet der posten ble endret; "
            "den synkroniseres ved neste endring.",
            "Retype the field the message names, without special characters, in the system where the "
            "record was changed; it syncs with its next change.",
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
        DRIFTI_USER_NOT_LINKED,
        DRIFTI_HOURS_NOT_APPROVED,
        DRIFTI_HOURS_LOCKED,
        DRIFTI_ACCOUNT_UNMAPPED,
        DRIFTI_INVOICE_UNBALANCED,
        DRIFTI_PAYMENT_BEFORE_SWITCH_ON,
        RECORD_TEXT_INVALID,
    }
)
# Raised by a writer: resolved once a later write of the record is applied.
WRITE_CODES = frozenset(CATALOG) - RULE_CODES
