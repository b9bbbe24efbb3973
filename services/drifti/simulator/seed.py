"""A realistic, reproducible month in a plumbing firm's Drifti account.

What is in it, and which rule each part is there to exercise:
- five users, one without an employee number (D-E1: the mapping must cope), four hourly
  rates (D-A1), Drifti's own chart of accounts (D-L1);
- six customers with numeric customer numbers, companies and private persons (D-C1);
- eight jobs, three created *before* the integration was switched on (D-J1's late project
  creation), one closed long ago and one closed at the end of the month;
- a few dozen invoices across all four VAT rates, one credit note partly crediting an
  earlier invoice (D-I1), and payments by KID and by hand, in full and in part, with some
  invoices left unpaid (D-P1);
- a few hundred time entries, reviewed each Monday for the week before: mostly approved, a
  few rejected or overlooked, and the month's last week still pending (D-H1 exports only
  approved hours).

Everything is planned first from ``random.Random(seed)`` as a timeline of back-dated
actions and then executed in time order through the same rules the API uses
(``resources``), so the data is self-consistent by construction and the same seed and
month always give the same records, ids and timestamps.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.drifti.simulator import resources
from services.drifti.simulator.models import (
    ApprovalStatus,
    CustomerCreate,
    HourlyRateCreate,
    InvoiceCreate,
    InvoiceLineCreate,
    JobCreate,
    JobPatch,
    PaymentCreate,
    PaymentMethod,
    TimeEntryCreate,
    TimeEntryPatch,
    UserCreate,
)
from services.drifti.simulator.state import SimState, TenantState
from services.restsim.error_envelope import ApiError

COMPANY = "Demo Rør & Bygg AS"

USERS = (  # name, e-mail, employee number, usual rate
    ("Marius Johansen", "marius@demo-ror.example", "101", "Fagarbeider"),
    ("Ingrid Solberg", "ingrid@demo-ror.example", "102", "Prosjektleder"),
    ("Ahmed Rahimi", "ahmed@demo-ror.example", None, "Fagarbeider"),  # D-E1: no employee number
    ("Sofie Lund", "sofie@demo-ror.example", "104", "Lærling"),
    ("Jonas Berg", "jonas@demo-ror.example", "105", "Fagarbeider"),
)
RATES = (
    ("Fagarbeider", Decimal("895.00")),
    ("Lærling", Decimal("545.00")),
    ("Prosjektleder", Decimal("1150.00")),
    ("Overtid 50 %", Decimal("1342.50")),
)
CUSTOMERS = (  # number, name, org. number, e-mail, phone, address, postal code, city
    (
        "10001",
        "Fjordbygg AS",
        "912345678",
        "post@fjordbygg.example",
        "+47 22 11 22 33",
        "Strandveien 12",
        "1366",
        "Lysaker",
    ),
    (
        "10002",
        "Nordlys Eiendom AS",
        "923456789",
        "faktura@nordlys.example",
        "+47 55 20 30 40",
        "Bryggen 3",
        "5003",
        "Bergen",
    ),
    (
        "10003",
        "Kari Nordmann",
        None,
        "kari.nordmann@example.no",
        "+47 912 34 567",
        "Bjørkeveien 4",
        "0577",
        "Oslo",
    ),
    (
        "10004",
        "Solsiden Borettslag",
        "934567890",
        "styret@solsiden.example",
        None,
        "Solsiden 1",
        "7010",
        "Trondheim",
    ),
    (
        "10005",
        "Ola Hansen",
        None,
        "ola.hansen@example.no",
        "+47 478 90 123",
        "Furuveien 17",
        "3110",
        "Tønsberg",
    ),
    (
        "10006",
        "Tønsberg Tannklinikk AS",
        "945678901",
        "adm@tannklinikk.example",
        "+47 33 30 40 50",
        "Storgaten 22",
        "3126",
        "Tønsberg",
    ),
)
# title, customer number, when it was created relative to the month (None: during the month)
JOBS = (
    ("Rørfornying blokk B", "10004", -95),
    ("Bad totalrenovering, Bjørkeveien 4", "10003", -40),
    ("Service sprinkleranlegg", "10002", -18),
    ("Ny varmtvannsbereder", "10005", None),
    ("Lekkasje i kjeller", "10001", None),
    ("Ombygging kjøkken", "10006", None),
    ("Utskifting stoppekran", "10001", None),
)
OLD_CLOSED_JOB = ("Frostskade 2025", "10002", -210)
MATERIALS = (
    ("Rør og koblingsdeler", 350, 4500),
    ("Blandebatteri", 1490, 3990),
    ("Varmtvannsbereder 200 l", 11990, 15990),
    ("Sluk og membran", 890, 2890),
    ("Servant med skap", 3990, 8990),
)
# Extra lines that bring every VAT rate into the month: description, account, price.
EXTRAS = (
    ("Leie av lift, 1 dag", "3600", Decimal("1850.00")),
    ("Persontransport ferge", "3025", Decimal("312.00")),
    ("Servering ved befaring", "3015", Decimal("240.00")),
    ("Gebyr kommunal søknad", "3100", Decimal("1200.00")),
)


def previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def parse_month(value: str) -> date:
    try:
        year, month = (int(p) for p in value.split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise ApiError(
            422,
            "VALIDATION_FAILED",
            "The request failed validation.",
            details=[{"field": "demo.month", "message": "Use YYYY-MM, e.g. 2026-10."}],
        ) from exc


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class _Plan:
    """The month as a list of timed actions; executed in time order once fully planned."""

    actions: list[tuple[datetime, int, Callable[[], None]]] = field(default_factory=list)

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        self.actions.append((when, len(self.actions), action))

    def run(self) -> None:
        for _, _, action in sorted(self.actions, key=lambda a: (a[0], a[1])):
            action()


def create_demo_tenant(
    state: SimState, name: str, api_key: str | None = None, *, seed: int = 1, month: date | None = None
) -> TenantState:
    """A tenant holding one demo month; the same (name, seed, month) always gives the same data."""
    first = (month or previous_month(datetime.now(UTC).date())).replace(day=1)
    if first >= datetime.now(UTC).date().replace(day=1):
        raise ApiError(
            422,
            "VALIDATION_FAILED",
            "The request failed validation.",
            details=[{"field": "demo.month", "message": "Must be a month that has ended."}],
        )
    tenant = state.create_tenant(
        name, api_key, company_name=COMPANY, id_seed=seed, created_at=_at(first - timedelta(days=400), 8)
    )
    seed_demo_month(tenant, seed=seed, month=first)
    return tenant


def seed_demo_month(tenant: TenantState, *, seed: int, month: date) -> None:
    rng = random.Random(f"drifti-demo:{seed}")
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    workdays = [d for d in days if d.weekday() < 5]
    start = _at(first - timedelta(days=400), 9)
    tenant.integration_enabled_at = _at(first, 7, 30)
    plan = _Plan()

    # --- master data, long before the month
    users: dict[str, str] = {}
    rates: dict[str, str] = {}
    customers: dict[str, str] = {}
    jobs: dict[str, str] = {}
    job_open: dict[str, tuple[datetime, datetime | None]] = {}

    def add_rate(rate_name: str, price: Decimal) -> Callable[[], None]:
        def run() -> None:
            rec = resources.create_hourly_rate(
                tenant, HourlyRateCreate(name=rate_name, price_per_hour=price), start
            )
            rates[rate_name] = rec.id

        return run

    for rate_name, price in RATES:
        plan.at(start, add_rate(rate_name, price))

    def add_user(user_name: str, email: str, number: str | None) -> Callable[[], None]:
        def run() -> None:
            body = UserCreate(name=user_name, email=email, employee_number=number)
            users[user_name] = resources.create_user(tenant, body, start).id

        return run

    for user_name, email, number, _ in USERS:
        plan.at(start, add_user(user_name, email, number))

    def add_customer(row: tuple[str, str, str | None, str, str | None, str, str, str]) -> Callable[[], None]:
        number, cname, org, email, phone, address, postal, city = row

        def run() -> None:
            body = CustomerCreate(
                customer_number=number,
                name=cname,
                organization_number=org,
                email=email,
                phone=phone,
                address_line1=address,
                postal_code=postal,
                city=city,
            )
            customers[number] = resources.create_customer(tenant, body, start).id

        return run

    for row in CUSTOMERS:
        plan.at(start, add_customer(row))

    def add_job(title: str, customer_number: str, when: datetime) -> Callable[[], None]:
        def run() -> None:
            body = JobCreate(
                title=title, customer_id=customers[customer_number], description=f"Oppdrag: {title}"
            )
            jobs[title] = resources.create_job(tenant, body, when).id

        return run

    def close_job(title: str, when: datetime) -> Callable[[], None]:
        def run() -> None:
            resources.update_job(tenant, jobs[title], JobPatch(status="closed"), when)

        return run

    old_title, old_customer, old_offset = OLD_CLOSED_JOB
    old_created = _at(first + timedelta(days=old_offset), 8, 15)
    plan.at(old_created, add_job(old_title, old_customer, old_created))
    old_closed = old_created + timedelta(days=60)
    plan.at(old_closed, close_job(old_title, old_closed))
    job_open[old_title] = (old_created, old_closed)

    new_job_days = sorted(rng.sample(workdays[: max(4, len(workdays) - 5)], 4))
    for (title, customer_number, offset), new_day in zip(
        JOBS, [None, None, None, *new_job_days], strict=True
    ):
        if offset is not None:
            created = _at(first + timedelta(days=offset), 8, rng.randrange(0, 60))
        else:
            assert new_day is not None
            created = _at(new_day, 7, rng.randrange(0, 60))
        plan.at(created, add_job(title, customer_number, created))
        job_open[title] = (created, None)
    closing_title = "Utskifting stoppekran"
    closed_at = _at(last, 19)
    plan.at(closed_at, close_job(closing_title, closed_at))
    job_open[closing_title] = (job_open[closing_title][0], closed_at)

    def open_jobs(when: datetime) -> list[str]:
        return [
            t
            for t, (opened, closed) in job_open.items()
            if opened < when and (closed is None or closed > when)
        ]

    # --- hours: logged in the afternoon, reviewed the Monday after
    entries: dict[int, str] = {}
    rate_price = dict(RATES)

    def add_entry(key: int, body: Callable[[], TimeEntryCreate], when: datetime) -> Callable[[], None]:
        def run() -> None:
            entries[key] = resources.create_time_entry(tenant, body(), when).id

        return run

    def review(key: int, outcome: ApprovalStatus, when: datetime) -> Callable[[], None]:
        def run() -> None:
            resources.update_time_entry(tenant, entries[key], TimeEntryPatch(status=outcome), when)

        return run

    def entry_body(
        user: str, title: str, rate: str, day: date, hours: Decimal, text: str
    ) -> Callable[[], TimeEntryCreate]:
        return lambda: TimeEntryCreate(
            user_id=users[user],
            job_id=jobs[title],
            hourly_rate_id=rates[rate],
            date=day,
            hours=hours,
            description=text,
        )

    key = 0
    for day in workdays:
        review_day = day + timedelta(days=7 - day.weekday())  # the Monday after
        for user, _, _, usual_rate in USERS:
            when = _at(day, 15, rng.randrange(0, 59))
            candidates = open_jobs(when)
            parts = rng.choice((2, 3, 3))
            split = [Decimal("7.5") / parts] * parts
            hours = [(h * 2).quantize(Decimal("1")) / 2 for h in split]  # half hours
            hours[-1] = Decimal("7.5") - sum(hours[:-1], Decimal(0))
            if rng.random() < 0.06:
                parts += 1
                hours.append(Decimal("2.0"))
            for i in range(parts):
                title = rng.choice(candidates)
                rate = usual_rate if i < len(split) else "Overtid 50 %"
                created = when + timedelta(minutes=i)
                plan.at(
                    created,
                    add_entry(key, entry_body(user, title, rate, day, hours[i], f"Arbeid: {title}"), created),
                )
                roll = rng.random()
                if review_day <= last and roll > 0.03:  # a few are overlooked and stay pending
                    outcome: ApprovalStatus = "rejected" if roll < 0.07 else "approved"
                    reviewed = _at(review_day, 8, 30)
                    plan.at(reviewed, review(key, outcome, reviewed))
                key += 1

    # --- invoices, a credit note and payments
    invoices: dict[int, str] = {}

    def add_invoice(
        n: int, title: str, day: date, lines: list[InvoiceLineCreate], when: datetime
    ) -> Callable[[], None]:
        def run() -> None:
            rec, _ = resources.create_invoice(
                tenant, InvoiceCreate(job_id=jobs[title], invoice_date=day, lines=lines), when
            )
            invoices[n] = rec.id

        return run

    def credit(n: int, line: InvoiceLineCreate, day: date, when: datetime) -> Callable[[], None]:
        def run() -> None:
            negative = line.model_copy(
                update={"quantity": -line.quantity, "description": f"Kreditering: {line.description}"}
            )
            body = InvoiceCreate(credited_invoice_id=invoices[n], invoice_date=day, lines=[negative])
            resources.create_invoice(tenant, body, when)

        return run

    def pay(
        n: int, share: Decimal, method: PaymentMethod, day: date, when: datetime, ref: str
    ) -> Callable[[], None]:
        def run() -> None:
            invoice = tenant.invoices[invoices[n]]
            amount = resources.money(invoice.outstanding_amount * share)
            if amount <= 0:
                return
            body = PaymentCreate(
                invoice_id=None if method == "kid" else invoice.id,
                amount=amount,
                payment_date=day,
                method=method,
                kid=invoice.kid if method == "kid" else None,
                reference=ref,
            )
            resources.create_payment(tenant, body, when)

        return run

    n = 0
    for day in workdays:
        for _ in range(rng.choice((1, 1, 2, 2, 2))):
            when = _at(day, rng.randrange(10, 14), rng.randrange(0, 60))
            title = rng.choice([t for t in open_jobs(when) if t != old_title])
            lines = [
                InvoiceLineCreate(
                    description="Arbeid fagarbeider",
                    quantity=Decimal(rng.randrange(4, 60)) / 2,
                    unit_price=rate_price["Fagarbeider"],
                    ledger_account="3000",
                )
            ]
            for _ in range(rng.randrange(1, 3)):
                item, low, high = rng.choice(MATERIALS)
                lines.append(
                    InvoiceLineCreate(
                        description=item,
                        quantity=Decimal(rng.randrange(1, 4)),
                        unit_price=Decimal(rng.randrange(low, high)) + Decimal(rng.choice((0, 50, 90))) / 100,
                        ledger_account="3005",
                    )
                )
            if n < len(EXTRAS) or rng.random() < 0.2:
                text, account, price = EXTRAS[n % len(EXTRAS)] if n < len(EXTRAS) else rng.choice(EXTRAS)
                lines.append(
                    InvoiceLineCreate(
                        description=text, quantity=Decimal(1), unit_price=price, ledger_account=account
                    )
                )
            plan.at(when, add_invoice(n, title, day, lines, when))

            if n == 2:  # the credit note: the materials line is taken back, the rest paid by KID
                credit_day = day + timedelta(days=2)
                plan.at(_at(credit_day, 9), credit(n, lines[1], credit_day, _at(credit_day, 9)))
                pay_day = credit_day + timedelta(days=7)
                if pay_day <= last:
                    plan.at(_at(pay_day, 6), pay(n, Decimal(1), "kid", pay_day, _at(pay_day, 6), "OCR"))
                n += 1
                continue
            # Invoice 1 is always settled by hand and invoice 4 always stays part-paid, so every
            # seed has both; the rest is left to chance.
            fate = {1: 0.6, 4: 0.75}.get(n) or rng.random()
            pay_day = day + timedelta(days=rng.randrange(2, 15))
            second_day = pay_day + timedelta(days=rng.randrange(2, 8))
            if pay_day > last:
                pass  # not due yet: stays unpaid this month
            elif fate < 0.55:
                plan.at(_at(pay_day, 6), pay(n, Decimal(1), "kid", pay_day, _at(pay_day, 6), "OCR"))
            elif fate < 0.68:
                plan.at(_at(pay_day, 12), pay(n, Decimal(1), "manual", pay_day, _at(pay_day, 12), "Nettbank"))
            elif fate < 0.82:  # partial: part by KID now, maybe the rest by hand later
                plan.at(
                    _at(pay_day, 6),
                    pay(n, Decimal("0.5"), "kid", pay_day, _at(pay_day, 6), "OCR delbetaling"),
                )
                if n != 4 and second_day <= last and rng.random() < 0.6:
                    plan.at(
                        _at(second_day, 12),
                        pay(n, Decimal(1), "manual", second_day, _at(second_day, 12), "Restbeløp"),
                    )
            n += 1

    plan.run()
