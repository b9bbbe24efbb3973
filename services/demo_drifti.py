"""The Drifti part of ``tsync demo``: a small firm's month goes to Tripletex, then its hours.

A second sandbox tenant gets a Drifti account filled with the simulator's deterministic demo
month (customers, jobs, invoices with a credit note, KID and manual payments, approved and
pending hours). The engine's first catch-up pass after switch-on reads the month; invoices on
accounts that are not in the Tripletex chart wait in the error log until an operator maps them
(D-L1); then the hours are exported twice (D-H1), the second time changing nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from contracts.error_codes import DRIFTI_ACCOUNT_UNMAPPED
from services.drifti.accounts import map_account
from services.drifti.catch_up import drifti_catch_up_pass
from services.drifti.hours.run import run_export
from services.drifti.hours.store import PostgresLinkStore
from services.sandbox import Sandbox, SandboxTenant

MONTH = {"seed": 1, "month": "2026-10"}
SWITCHED_ON = datetime(2000, 1, 1, tzinfo=UTC)  # the first pass reads everything there is
WAIT = 60.0
STAFF = (
    ("Marius", "Johansen", "marius@demo-ror.example"),
    ("Ingrid", "Solberg", "ingrid.solberg@other.example"),  # linked by name
    ("Sofie", "Lund", "sofie@demo-ror.example"),
    ("Jonas", "Berg", "jonas@demo-ror.example"),
)


def _vouchers(sandbox: Sandbox, t: SandboxTenant) -> list[dict[str, Any]]:
    return list(sandbox.tripletex_state.companies[t.company_id].table("Voucher").values())


def _postings(sandbox: Sandbox, t: SandboxTenant) -> list[dict[str, Any]]:
    return list(sandbox.tripletex_state.companies[t.company_id].table("Posting").values())


async def drifti_month(sandbox: Sandbox, step: Any) -> None:
    step("(f) Drifti: a plumbing firm switches the integration on; its October goes to Tripletex")
    t = await sandbox.add_tenant(webhooks=False)
    drifti = await sandbox.add_drifti(t, demo=MONTH)
    invoices = await drifti.invoices.list_all()
    payments = await drifti.payments.list_all()
    credit_notes = sum(1 for i in invoices if i.kind == "credit_note")
    print(
        f"   drifti ({t.tenant_id}): {len(invoices)} invoices ({credit_notes} credit note),"
        f" {len(payments)} payments ({Counter(p.method for p in payments)})"
    )
    assert sandbox.runtime.database is not None
    pool = sandbox.runtime.database.pool
    reader = await sandbox.runtime.drifti_readers(t.tenant_id)
    tripletex = await sandbox.runtime.tripletex_clients(t.tenant_id)
    publisher = sandbox.runtime.publisher
    await drifti_catch_up_pass(pool, reader, tripletex, t.tenant_id, SWITCHED_ON, publisher)

    async def unmapped() -> list[Any]:
        rows = await sandbox.errors(t.tenant_id, open_only=True)
        return [r for r in rows if r["error_code"] == DRIFTI_ACCOUNT_UNMAPPED]

    await sandbox.settle(t.tenant_id, quiet=1.5)
    waiting = await unmapped()
    print(f"   tripletex: {len(_vouchers(sandbox, t))} vouchers so far")
    for row in waiting[:3]:
        print(f"   error log: {row['error_code']} drifti invoice {row['entity_id']}: {row['detail']}")
    if len(waiting) > 3:
        print(f"   error log: ... {len(waiting) - 3} more waiting for an account mapping")
    for account in ("3005", "3015", "3025", "3600"):
        sent = await map_account(pool, publisher, t.tenant_id, reader, account, "3000", tripletex)
        print(
            f"   operator: tsync drifti map-account --drifti {account} --tripletex 3000  ({sent} sent again)"
        )
    expected = len(invoices) + len(payments)
    await sandbox.wait_until(lambda: len(_vouchers(sandbox, t)) >= expected, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.5)
    vouchers = _vouchers(sandbox, t)
    postings = _postings(sandbox, t)
    per_voucher: Counter[int] = Counter()
    for p in postings:
        per_voucher[p["voucher"]["id"]] += round(Decimal(str(p["amount"])) * 100)
    balanced = sum(1 for v in vouchers if per_voucher[v["id"]] == 0)
    attached = sum(1 for v in vouchers if v.get("attachment"))
    print(
        f"   tripletex: {len(vouchers)} vouchers, {balanced} balanced, {attached} with the invoice PDF;"
        f" open errors for accounts: {len(await unmapped())}"
    )
    await _hours(sandbox, t, pool)


async def _hours(sandbox: Sandbox, t: SandboxTenant, pool: Any) -> None:
    # D-E1: four of the firm's five Drifti users are employees in Tripletex (one under another e-mail).
    for first, last, email in STAFF:
        body = {
            "firstName": first,
            "lastName": last,
            "email": email,
            "userType": "NO_ACCESS",
            "department": {"id": t.department_id},
        }
        await t.tripletex_api("POST", "/employee", body)
    print(f"   tripletex: employees {', '.join(f'{f} {la}' for f, la, _ in STAFF)} (Ahmed Rahimi is not one)")
    print("   drifti: 'Export hours to Tripletex' for 2026-10-01 .. 2026-10-31 (approved hours only)")
    tenant = await sandbox.tenants.get(t.tenant_id)
    start, end = date(2026, 10, 1), date(2026, 10, 31)
    store = PostgresLinkStore(pool)
    export = (await run_export(tenant, start, end, store=store, publisher=sandbox.runtime.publisher)).export
    written = export.written
    print(
        f"   tripletex: {written.created} timesheet entries created, {written.updated} updated,"
        f" {export.approved_hours} approved hours"
    )
    reported: dict[str, tuple[int, Decimal]] = {}
    for (reason, _who), (count, hours) in export.reported().items():
        entries, total = reported.get(str(reason), (0, Decimal(0)))
        reported[str(reason)] = (entries + count, total + hours)
    for why, (count, hours) in sorted(reported.items()):
        print(f"   reported, not sent: {why}: {count} entries, {hours} h")
    for user in export.unlinked:
        print(f"   error log: Drifti user {user.name} is not linked to a Tripletex employee ({user.why})")
    again = await run_export(tenant, start, end, store=store, publisher=sandbox.runtime.publisher)
    print(f"   export again: {again.export.written.total} writes (the same period changes nothing)")
