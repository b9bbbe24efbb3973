"""Generic create/read/update/delete of stored objects, shared by every endpoint.

This is where Tripletex's cross-cutting semantics live once: `{id}` references must
point at existing objects of the company, `version` is checked for optimistic locking
(stale -> 409 code 8000, omitted -> last write wins), every real change bumps `version`,
PUT is partial, and create/update/delete of objects Tripletex emits events for are handed
to the webhook dispatcher. Entity-specific rules are in `rules.py` and `ledger.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.tripletex.simulator import fields_filter
from services.tripletex.simulator.errors import (
    REFERENCED_OBJECT_MISSING,
    ValidationMessage,
    not_found,
    revision_conflict,
    validation_failed,
)
from services.tripletex.simulator.fields_filter import FieldTree, RenderContext
from services.tripletex.simulator.spec import SchemaCatalog, catalog

if TYPE_CHECKING:
    from services.tripletex.simulator.rules import EntityRules
    from services.tripletex.simulator.state import Company, SimulatorState


@dataclass(frozen=True)
class Kind:
    """A stored schema: where its URL lives and which webhook subject it emits (if any)."""

    schema: str
    path: str
    subject: str | None = None


KINDS: dict[str, Kind] = {
    kind.schema: kind
    for kind in (
        Kind("Project", "project", "project"),
        Kind("Customer", "customer", "customer"),
        Kind("Employee", "employee", "employee"),
        Kind("Account", "ledger/account", "account"),
        Kind("Voucher", "ledger/voucher", "voucher"),
        Kind("Activity", "activity"),
        Kind("ProjectActivity", "project/projectActivity"),
        Kind("ProjectParticipant", "project/participant"),
        Kind("ProjectHourlyRate", "project/hourlyRates"),
        Kind("TimesheetEntry", "timesheet/entry"),
        Kind("VatType", "ledger/vatType"),
        Kind("VoucherType", "ledger/voucherType"),
        Kind("Posting", "ledger/posting"),
        Kind("PaymentType", "invoice/paymentType"),
        Kind("Invoice", "invoice"),
        Kind("Subscription", "event/subscription"),
        Kind("Department", "department"),
        Kind("Currency", "currency"),
        Kind("Company", "company"),
        Kind("Document", "document"),
        Kind("SessionToken", "token/session"),
    )
}

# Webhook subjects that exist in Tripletex (REFERENCE §5.9); none for timesheet or activity.
EVENT_SUBJECTS: dict[str, str] = {k.subject: k.schema for k in KINDS.values() if k.subject}
EVENT_VERBS = ("create", "update", "delete")

WRITE_ONLY: dict[str, frozenset[str]] = {"Subscription": frozenset({"authHeaderValue", "hmacSharedSecret"})}


@dataclass
class Ctx:
    """One authenticated request: whose company, which employee, how to build URLs."""

    state: SimulatorState
    company: Company
    employee_id: int
    host: str

    @property
    def catalog(self) -> SchemaCatalog:
        return catalog()

    def url(self, schema: str, object_id: int) -> str | None:
        kind = KINDS.get(schema)
        if kind is None:
            return None
        # Assumption: Tripletex writes `url` as host + path without a scheme ("tripletex.no/v2/...").
        return f"{self.host}/v2/{kind.path}/{object_id}"

    def resolve(self, schema: str, object_id: int) -> dict[str, Any] | None:
        return self.company.get(schema, object_id)

    def render(self, schema: str, row: dict[str, Any], tree: FieldTree) -> dict[str, Any]:
        out = fields_filter.render(schema, row, tree, RenderContext(self.catalog, self.resolve, self.url))
        for name in WRITE_ONLY.get(schema, ()):
            if name in out:
                out[name] = None  # write-only secrets are never echoed
        return out

    def rules(self, schema: str) -> EntityRules:
        from services.tripletex.simulator.rules import rules_for

        return rules_for(schema)


def fetch(ctx: Ctx, schema: str, object_id: int) -> dict[str, Any]:
    row = ctx.company.get(schema, object_id)
    if row is None:
        raise not_found(f"{schema} {object_id} not found")
    return row


def check_references(ctx: Ctx, schema: str, obj: dict[str, Any], prefix: str = "") -> list[ValidationMessage]:
    """Every `{id}` in the object (and in inline sub-objects) must exist in this company."""
    messages: list[ValidationMessage] = []
    for name, spec in ctx.catalog.fields(schema).items():
        value = obj.get(name)
        if value is None or spec.ref is None:
            continue
        items = value if spec.kind == "ref_list" else [value]
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            path = f"{prefix}{name}[{index}]" if spec.kind == "ref_list" else f"{prefix}{name}"
            field = f"{prefix}{name}"
            ref_id = item.get("id")
            if ref_id is None:
                messages += check_references(ctx, spec.ref, item, prefix=f"{path}.")
            elif spec.ref in KINDS and ctx.company.get(spec.ref, ref_id) is None:
                messages.append(ValidationMessage(f"{field}.id", REFERENCED_OBJECT_MISSING, f"{path}.id"))
    return messages


def create(ctx: Ctx, schema: str, obj: dict[str, Any], *, emit: bool = True) -> dict[str, Any]:
    """Validate and store a new object (already mapped by validation.parse_object)."""
    rules = ctx.rules(schema)
    messages = check_references(ctx, schema, obj)
    if messages:
        raise validation_failed(messages)
    rules.fill_defaults(ctx, obj)
    messages = rules.validate(ctx, obj, None)
    if messages:
        raise validation_failed(messages)
    row = ctx.state.insert(ctx.company, schema, obj, ctx.employee_id)
    rules.derive(ctx, row)
    rules.after_create(ctx, row)
    if emit:
        emit_event(ctx, schema, "create", row)
    return row


def update(
    ctx: Ctx,
    schema: str,
    object_id: int,
    patch: dict[str, Any],
    *,
    replace_fields: tuple[str, ...] = (),
    emit: bool = True,
) -> dict[str, Any]:
    """Apply a partial PUT. `replace_fields` are nulled when absent (timesheet entry PUT)."""
    row = fetch(ctx, schema, object_id)
    sent_version = patch.pop("version", None)
    patch.pop("id", None)
    if sent_version is not None and int(sent_version) != int(row.get("version", 0)):
        raise revision_conflict(int(row.get("version", 0)), int(sent_version))
    for name in replace_fields:
        patch.setdefault(name, None)
    rules = ctx.rules(schema)
    rules.prepare_update(ctx, row, patch)
    messages = check_references(ctx, schema, patch)
    if messages:
        raise validation_failed(messages)
    merged = {**row, **patch}
    messages = rules.validate(ctx, merged, row)
    if messages:
        raise validation_failed(messages)
    changed = {k: v for k, v in patch.items() if row.get(k) != v}
    if not changed:
        return row
    before = dict(row)
    row.update(changed)
    ctx.state.touch(ctx.company, row, ctx.employee_id)
    rules.derive(ctx, row)
    rules.after_update(ctx, row, before)
    if emit:
        emit_event(ctx, schema, "update", row)
    return row


def delete(ctx: Ctx, schema: str, object_id: int, version: int | None = None) -> None:
    row = fetch(ctx, schema, object_id)
    if version is not None and version != int(row.get("version", 0)):
        raise revision_conflict(int(row.get("version", 0)), version)
    rules = ctx.rules(schema)
    messages = rules.check_delete(ctx, row)
    if messages:
        raise validation_failed(messages)
    del ctx.company.table(schema)[object_id]
    rules.after_delete(ctx, row)
    emit_event(ctx, schema, "delete", row)


def emit_event(ctx: Ctx, schema: str, verb: str, row: dict[str, Any]) -> None:
    """Hand `subject.verb` to every ACTIVE subscription of the company that asked for it."""
    kind = KINDS.get(schema)
    if kind is None or kind.subject is None:
        return
    event = f"{kind.subject}.{verb}"
    for subscription in list(ctx.company.table("Subscription").values()):
        if subscription.get("event") != event or subscription.get("status", "ACTIVE") != "ACTIVE":
            continue
        value = None
        if verb != "delete":
            value = ctx.render(schema, row, fields_filter.parse(subscription.get("fields")))
        ctx.state.webhooks.dispatch(ctx.company.id, subscription, event, row["id"], value)
