"""What booking a payment on a Tripletex invoice needs (reference §5.8).

``PUT /invoice/{id}/:payment`` takes query parameters only and *adds* a payment every time
it is called, so it is never retried blindly. :meth:`InvoicesApi.register_payment_once`
decides from the invoice's outstanding amount whether our payment is still to be made, has
already been made, or whether the invoice has moved in a way we cannot explain (then it
stops with :class:`TripletexGuardError` and a person looks).

Invoices that were booked as plain vouchers (D-I1) have no invoice id; their payments are
vouchers too, made idempotent by ``externalVoucherNumber`` (see :mod:`.ledger`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

from .envelopes import parse_value
from .errors import TripletexGuardError, TripletexOutcomeUnknown
from .models import Invoice, PaymentType
from .resource import Resource

log = logging.getLogger(__name__)

OUTSTANDING_FIELDS = (
    "id,version,invoiceNumber,amount,amountCurrency,amountOutstanding,amountCurrencyOutstanding"
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PaymentOutcome:
    invoice: Invoice
    registered: bool  # this call's payment was answered
    # Found applied on a later look after our call's answer was lost (almost surely ours).
    recovered: bool = False


class InvoicesApi(Resource):
    async def get(self, invoice_id: int, *, fields: str | None = None) -> Invoice:
        return await self._get(f"/invoice/{invoice_id}", Invoice, fields=fields)

    def iterate(
        self,
        date_from: dt.date,
        date_to_exclusive: dt.date,
        *,
        fields: str | None = None,
        **filters: str | int,
    ) -> AsyncIterator[Invoice]:
        params = {
            "invoiceDateFrom": date_from.isoformat(),
            "invoiceDateTo": date_to_exclusive.isoformat(),
            **filters,
        }
        return self._iterate("/invoice", Invoice, params=params, fields=fields)

    async def payment_types(self) -> list[PaymentType]:
        """Payment types of this company (ids differ per company; there is no ``name``)."""
        return await self._all("/invoice/paymentType", PaymentType)

    async def _outstanding(self, invoice_id: int, in_currency: bool) -> tuple[Invoice, Decimal]:
        invoice = await self.get(invoice_id, fields=OUTSTANDING_FIELDS)
        value = invoice.amount_currency_outstanding if in_currency else invoice.amount_outstanding
        return invoice, (value or Decimal(0)).quantize(CENT)

    async def register_payment_once(
        self,
        invoice_id: int,
        *,
        payment_date: dt.date,
        payment_type_id: int,
        paid_amount: Decimal,
        paid_amount_currency: Decimal | None = None,
        outstanding_before: Decimal | None = None,
    ) -> PaymentOutcome:
        """Register a payment unless the invoice shows it was already registered.

        ``outstanding_before`` is the outstanding amount when the payment was decided (store
        it with the command). With it, "already paid" is exact: outstanding equals
        ``outstanding_before - paid``. Without it, we pay only while the outstanding amount
        still covers the payment, which is right when this engine is the only payer.
        """
        in_currency = paid_amount_currency is not None
        amount = (paid_amount_currency if paid_amount_currency is not None else paid_amount).quantize(CENT)
        params: dict[str, str | int | None] = {
            "paymentDate": payment_date.isoformat(),
            "paymentTypeId": payment_type_id,
            "paidAmount": str(paid_amount),
            "paidAmountCurrency": str(paid_amount_currency) if paid_amount_currency is not None else None,
        }
        unknown = False
        for attempt in range(1, self._t.retry.create_max_attempts + 1):
            invoice, outstanding = await self._outstanding(invoice_id, in_currency)
            if outstanding_before is not None:
                before = outstanding_before.quantize(CENT)
                if outstanding == before - amount:
                    return PaymentOutcome(invoice, registered=False, recovered=unknown)
                if outstanding != before:
                    raise TripletexGuardError(
                        f"invoice {invoice_id} outstanding is {outstanding}, expected {before} "
                        f"(unpaid) or {before - amount} (paid)"
                    )
            elif outstanding <= 0:
                return PaymentOutcome(invoice, registered=False, recovered=unknown)
            elif outstanding < amount:
                raise TripletexGuardError(
                    f"invoice {invoice_id} outstanding {outstanding} is less than the payment {amount}"
                )
            try:
                response = await self._t.request(
                    "PUT", f"/invoice/{invoice_id}/:payment", params=params, idempotent=False
                )
            except TripletexOutcomeUnknown:
                unknown = True
                log.warning("payment outcome unknown; re-reading invoice", extra={"invoice_id": invoice_id})
                await self._sleep(self._t.retry.server_error_base_seconds * attempt)
                if outstanding_before is None:
                    # Pin the expectation so the next look can tell "paid" from "unpaid".
                    outstanding_before = outstanding
                continue
            return PaymentOutcome(parse_value(response, Invoice), registered=True)
        raise TripletexOutcomeUnknown(f"payment on invoice {invoice_id} did not settle")
