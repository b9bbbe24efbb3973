"""S-X2: a record whose text cannot be stored or sent is rejected with an error code, before any rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    InvoiceLineSnapshot,
    InvoiceSnapshot,
    JobSnapshot,
    ProjectSnapshot,
)
from contracts.envelope import ChangeKind, EntityType, SourceSystem, Verdict
from contracts.error_codes import CATALOG, RECORD_TEXT_INVALID, RULE_CODES
from services.decision.decide import decide
from services.decision.links import NO_LINKS
from services.decision.rules.text import text_problem
from tests.unit.decision.rule_cases import change, linked

SVENN, TRIPLETEX, DRIFTI = SourceSystem.SVENN, SourceSystem.TRIPLETEX, SourceSystem.DRIFTI
START = date(2026, 1, 5)


def _customer(**fields: object) -> CustomerSnapshot:
    return CustomerSnapshot.model_validate({"customer_number": "55", "name": "Acme", **fields})


def _invoice(description: str) -> InvoiceSnapshot:
    amount = Decimal("100.00")
    line = InvoiceLineSnapshot(
        line_no=1,
        description=description,
        quantity=Decimal(1),
        unit_price=amount,
        vat_rate=25,
        ledger_account="3000",
        net_amount=amount,
        vat_amount=Decimal("25.00"),
        gross_amount=Decimal("125.00"),
    )
    return InvoiceSnapshot(
        invoice_number=1001,
        invoice_date=START,
        due_date=START,
        lines=(line,),
        net_amount=amount,
        vat_amount=Decimal("25.00"),
        gross_amount=Decimal("125.00"),
        customer=_customer(),
        job=JobSnapshot(job_number="J-1", title="Roof"),
    )


@pytest.mark.parametrize(
    ("source", "entity_type", "snapshot", "field"),
    [
        (
            SVENN,
            EntityType.PROJECT,
            ProjectSnapshot(number="2024.17", name="Roof\x00", start_date=START),
            "name",
        ),
        (
            TRIPLETEX,
            EntityType.PROJECT,
            ProjectSnapshot(number="24\x0717", name="Roof", start_date=START),
            "number",
        ),
        (SVENN, EntityType.CUSTOMER, _customer(city="Oslo\x1b"), "city"),
        (
            SVENN,
            EntityType.EMPLOYEE,
            EmployeeSnapshot(first_name="Kari", last_name="Nord\x7fmann"),
            "last_name",
        ),
        (
            SVENN,
            EntityType.EMPLOYEE,
            EmployeeSnapshot(first_name="K", last_name="N", email="a" * 300),
            "email",
        ),
        (DRIFTI, EntityType.INVOICE, _invoice("Takarbeid\x00"), "lines[0].description"),
    ],
)
def test_S_X2_unstorable_text_is_rejected_with_an_error_code_naming_the_field(
    source: SourceSystem, entity_type: EntityType, snapshot: EntitySnapshot, field: str
) -> None:
    ruling = decide(change(source, entity_type, ChangeKind.UPDATED, snapshot), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == (
        "S-X2",
        Verdict.REJECT,
        RECORD_TEXT_INVALID,
    )
    assert ruling.commands == ()
    assert f"'s {field} " in ruling.reason
    # The reason names the character, never repeats the text: it is stored in the error log.
    assert "\x00" not in ruling.reason
    assert "U+" in ruling.reason or "characters long" in ruling.reason


def test_S_X2_comes_before_every_other_rule() -> None:
    # A linked Svenn project without a start date (S-P1) and with a NUL in its name: nothing of
    # its text may reach a command, so S-X2 answers first.
    project = ProjectSnapshot(number="2024.17", name="Roof\x00")
    links = linked(EntityType.PROJECT, SVENN)
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, project), links)
    assert (ruling.rule_id, ruling.error_code) == ("S-X2", RECORD_TEXT_INVALID)


def test_S_X2_tabs_and_line_breaks_are_text_not_errors() -> None:
    project = ProjectSnapshot(number="2024.17", name="Roof\tEast\r\nwing", start_date=START)
    assert text_problem(project) is None
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.CREATED, project), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict) == ("S-P4", Verdict.COMMAND)


def test_S_X2_a_deletion_has_no_text_to_judge() -> None:
    ruling = decide(change(TRIPLETEX, EntityType.CUSTOMER, ChangeKind.DELETED, None), NO_LINKS)
    assert ruling.rule_id != "S-X2"


def test_S_X2_error_code_is_in_the_catalogue_in_norwegian_and_english_and_resolves_like_a_rule() -> None:
    entry = CATALOG[RECORD_TEXT_INVALID]
    assert entry.message_no and entry.message_en and entry.action_no and entry.action_en
    assert RECORD_TEXT_INVALID in RULE_CODES  # a later accepted decision about the record resolves it
