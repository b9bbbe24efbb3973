"""The objects a fresh Tripletex company already has.

A new Tripletex account comes with a chart of accounts, VAT codes, voucher types, payment
types, a department and the employee who owns the API token. The engine resolves these by
number or name (REFERENCE §6: ids differ per company), so each company gets its own ids.
Names follow Norwegian standard chart (NS 4102) and Tripletex's VAT code names.
"""

from __future__ import annotations

from typing import Any

# (number, name, percentage, deductionPercentage)
VAT_TYPES: tuple[tuple[str, str, float, float], ...] = (
    ("0", "Ingen avgiftsbehandling", 0.0, 0.0),
    ("1", "Fradrag inngående avgift, høy sats", 25.0, 100.0),
    ("11", "Fradrag inngående avgift, middels sats", 15.0, 100.0),
    ("13", "Fradrag inngående avgift, lav sats", 12.0, 100.0),
    ("3", "Utgående avgift, høy sats", 25.0, 0.0),
    ("31", "Utgående avgift, middels sats", 15.0, 0.0),
    ("33", "Utgående avgift, lav sats", 12.0, 0.0),
    ("5", "Ingen utgående avgift (innenfor mva-loven)", 0.0, 0.0),
    ("6", "Ingen utgående avgift (utenfor mva-loven)", 0.0, 0.0),
)

# (number, name, type, ledgerType, vat code, isBankAccount)
ACCOUNTS: tuple[tuple[int, str, str, str, str | None, bool], ...] = (
    (1500, "Kundefordringer", "ASSETS", "CUSTOMER", None, False),
    (1920, "Bankinnskudd", "ASSETS", "GENERAL", None, True),
    (2400, "Leverandørgjeld", "LIABILITIES", "VENDOR", None, False),
    (2700, "Utgående merverdiavgift", "LIABILITIES", "GENERAL", None, False),
    (2710, "Inngående merverdiavgift", "LIABILITIES", "GENERAL", None, False),
    (2930, "Skyldig lønn", "LIABILITIES", "EMPLOYEE", None, False),
    (3000, "Salgsinntekt, avgiftspliktig", "OPERATING_REVENUES", "GENERAL", "3", False),
    (3100, "Salgsinntekt, avgiftsfri", "OPERATING_REVENUES", "GENERAL", "5", False),
    (4000, "Innkjøp råvarer og halvfabrikata", "OPERATING_EXPENSES", "GENERAL", "1", False),
    (7770, "Bank og kortgebyrer", "OPERATING_EXPENSES", "GENERAL", "0", False),
    (8060, "Valutagevinst (agio)", "INVESTMENT_INCOME", "GENERAL", "0", False),
)

VOUCHER_TYPES: tuple[str, ...] = (
    "Utgående faktura",
    "Leverandørfaktura",
    "Innbetaling",
    "Utbetaling",
    "Memorialbilag",
)

OUTGOING_INVOICE_VOUCHER_TYPE = "Utgående faktura"

# (description, debit account number)
PAYMENT_TYPES: tuple[tuple[str, int], ...] = (("Betalt til bank", 1920),)


def vat_type(number: str, name: str, percentage: float, deduction: float) -> dict[str, Any]:
    return {
        "name": name,
        "number": number,
        "displayName": f"{number} {name}",
        "percentage": percentage,
        "deductionPercentage": deduction,
    }


def account(
    number: int, name: str, account_type: str, ledger_type: str, vat_type_id: int | None, bank: bool
) -> dict[str, Any]:
    return {
        "number": number,
        "numberPretty": str(number),
        "name": name,
        "displayName": f"{number} {name}",
        "type": account_type,
        "ledgerType": ledger_type,
        "vatType": {"id": vat_type_id} if vat_type_id is not None else None,
        "vatLocked": False,
        "isInactive": False,
        "isBankAccount": bank,
        "requiresDepartment": False,
        "requiresProject": False,
    }
