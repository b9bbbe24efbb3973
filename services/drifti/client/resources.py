"""Per-resource operations: page/iterate, get, lookups by number, create, update, PDF.

The engine mostly *reads* Drifti (data flows one way into Tripletex). What it needs is
built in: ``changed_since`` for the catch-up poll behind the webhooks, ``find_by_number``
for the numbers Tripletex is searched by (D-C1, D-J2), ``approved_in_period`` for the
on-demand hours export (D-H1), and ``pdf`` for the voucher attachment (D-I1). Creates are
here too (tests, tools, a future two-way flow) and always carry an ``Idempotency-Key``, so
a retry after a lost response never makes a second invoice or payment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from services.drifti.client.errors import DriftiError
from services.drifti.client.http import Requester
from services.drifti.client.models import (
    ApprovalStatus,
    Customer,
    CustomerCreate,
    CustomerUpdate,
    HourlyRate,
    HourlyRateCreate,
    HourlyRateUpdate,
    Invoice,
    InvoiceCreate,
    Job,
    JobCreate,
    JobUpdate,
    LedgerAccount,
    LedgerAccountCreate,
    Page,
    Payment,
    PaymentCreate,
    Record,
    TimeEntry,
    TimeEntryCreate,
    TimeEntryUpdate,
    User,
    UserCreate,
    UserUpdate,
    WebhookSubscription,
)
from services.restclient.idempotency_key import idempotency_headers
from services.restclient.webhook_subscriptions import WebhookSubscriptionsAPI

M = TypeVar("M", bound=Record)
C = TypeVar("C", bound=BaseModel)
U = TypeVar("U", bound=BaseModel)

PAGE_SIZE = 100
# Python cannot take ``from=`` as a keyword argument; these spell the API's date range.
_PARAM_NAMES = {"date_from": "from", "date_to": "to"}


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return value


def _body(model: type[BaseModel], data: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    checked = model.model_validate(data) if isinstance(data, Mapping) else data
    return checked.model_dump(mode="json", exclude_unset=True)


class ReadAPI(Generic[M]):
    path: str
    model: type[M]

    def __init__(self, requester: Requester) -> None:
        self._r = requester

    async def get(self, record_id: str) -> M:
        # Quoted: an id is one path segment, whatever it holds ("../", a NUL).
        response = await self._r.request("GET", f"{self.path}/{quote(record_id, safe='')}")
        return self.model.model_validate(response.json())

    async def page(self, *, limit: int = PAGE_SIZE, cursor: str | None = None, **filters: Any) -> Page[M]:
        params = {"limit": limit, "cursor": cursor}
        params.update({_PARAM_NAMES.get(k, k): _param(v) for k, v in filters.items()})
        raw = (await self._r.request("GET", self.path, params=params)).json()
        return Page[M](
            data=[self.model.model_validate(item) for item in raw["data"]],
            has_more=bool(raw.get("has_more")),
            next_cursor=raw.get("next_cursor"),
        )

    async def iterate(self, *, page_size: int = PAGE_SIZE, **filters: Any) -> AsyncIterator[M]:
        """Every matching record across all pages, fetched lazily page by page."""
        cursor: str | None = None
        while True:
            page = await self.page(limit=page_size, cursor=cursor, **filters)
            for item in page.data:
                yield item
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list_all(self, **filters: Any) -> list[M]:
        return [item async for item in self.iterate(**filters)]

    def changed_since(self, since: datetime, **filters: Any) -> AsyncIterator[M]:
        """Catch-up polling: every record updated at or after ``since`` (inclusive)."""
        return self.iterate(updated_since=since, **filters)


class CreateAPI(ReadAPI[M], Generic[M, C]):
    create_model: type[C]

    async def create(self, data: C | Mapping[str, Any], *, idempotency_key: str | None = None) -> M:
        """Create a record. Pass a stable key (e.g. the engine's command id) so that even a
        redelivered command creates only once; without one, retries of this call are safe."""
        body = _body(self.create_model, data)
        headers = idempotency_headers(idempotency_key)
        response = await self._r.request("POST", self.path, json=body, headers=headers)
        return self.model.model_validate(response.json())


class UpdateAPI(CreateAPI[M, C], Generic[M, C, U]):
    update_model: type[U]

    async def update(self, record_id: str, changes: U | Mapping[str, Any]) -> M:
        """PATCH only the given fields (``None`` clears an optional one)."""
        body = _body(self.update_model, changes)
        response = await self._r.request("PATCH", f"{self.path}/{quote(record_id, safe='')}", json=body)
        return self.model.model_validate(response.json())


class CustomersAPI(UpdateAPI[Customer, CustomerCreate, CustomerUpdate]):
    path = "/api/v1/customers"
    model = Customer
    create_model = CustomerCreate
    update_model = CustomerUpdate

    async def find_by_number(self, customer_number: str) -> Customer | None:
        """The customer with this number (unique per tenant), if any."""
        page = await self.page(limit=1, customer_number=customer_number)
        return page.data[0] if page.data else None


class JobsAPI(UpdateAPI[Job, JobCreate, JobUpdate]):
    path = "/api/v1/jobs"
    model = Job
    create_model = JobCreate
    update_model = JobUpdate

    async def find_by_number(self, job_number: str) -> Job | None:
        page = await self.page(limit=1, job_number=job_number)
        return page.data[0] if page.data else None


class InvoicesAPI(CreateAPI[Invoice, InvoiceCreate]):
    path = "/api/v1/invoices"
    model = Invoice
    create_model = InvoiceCreate

    async def find_by_number(self, invoice_number: int) -> Invoice | None:
        page = await self.page(limit=1, invoice_number=invoice_number)
        return page.data[0] if page.data else None

    async def credit_notes_for(self, invoice: Invoice | str) -> list[Invoice]:
        invoice_id = invoice if isinstance(invoice, str) else invoice.id
        notes = await self.list_all(kind="credit_note")
        return [n for n in notes if n.credited_invoice_id == invoice_id]

    async def pdf(self, invoice_id: str) -> bytes:
        """The invoice as a PDF file, for the Tripletex voucher attachment (D-I1).

        Checked to really be a PDF: attaching an HTML error page to a voucher would be worse
        than failing here.
        """
        path = f"{self.path}/{invoice_id}/pdf"
        response = await self._r.request("GET", path, headers={"Accept": "application/pdf"})
        content = response.content
        if not content.startswith(b"%PDF-"):
            raise DriftiError(
                "Drifti returned something that is not a PDF.",
                status=response.status_code,
                method="GET",
                path=path,
            )
        return content


class PaymentsAPI(CreateAPI[Payment, PaymentCreate]):
    path = "/api/v1/payments"
    model = Payment
    create_model = PaymentCreate

    async def for_invoice(self, invoice_id: str) -> list[Payment]:
        return await self.list_all(invoice_id=invoice_id)


class UsersAPI(UpdateAPI[User, UserCreate, UserUpdate]):
    path = "/api/v1/users"
    model = User
    create_model = UserCreate
    update_model = UserUpdate

    async def find_by_email(self, email: str) -> User | None:
        page = await self.page(limit=1, email=email)
        return page.data[0] if page.data else None


class HourlyRatesAPI(UpdateAPI[HourlyRate, HourlyRateCreate, HourlyRateUpdate]):
    path = "/api/v1/hourly-rates"
    model = HourlyRate
    create_model = HourlyRateCreate
    update_model = HourlyRateUpdate


class TimeEntriesAPI(UpdateAPI[TimeEntry, TimeEntryCreate, TimeEntryUpdate]):
    path = "/api/v1/time-entries"
    model = TimeEntry
    create_model = TimeEntryCreate
    update_model = TimeEntryUpdate

    def in_period(
        self,
        start: date,
        end: date,
        *,
        status: ApprovalStatus | list[ApprovalStatus] | None = None,
        **filters: Any,
    ) -> AsyncIterator[TimeEntry]:
        """Entries dated ``start``..``end`` (both inclusive), optionally by approval status."""
        return self.iterate(date_from=start, date_to=end, status=status, **filters)

    def approved_in_period(self, start: date, end: date, **filters: Any) -> AsyncIterator[TimeEntry]:
        """What an "Export hours to Tripletex" of that period transfers (D-H1)."""
        return self.in_period(start, end, status="approved", **filters)


class LedgerAccountsAPI(CreateAPI[LedgerAccount, LedgerAccountCreate]):
    path = "/api/v1/ledger-accounts"
    model = LedgerAccount
    create_model = LedgerAccountCreate

    async def find_by_number(self, number: str) -> LedgerAccount | None:
        page = await self.page(limit=1, number=number)
        return page.data[0] if page.data else None


class WebhooksAPI(WebhookSubscriptionsAPI[WebhookSubscription]):
    model = WebhookSubscription
