"""Chart of accounts, VAT and voucher types, vouchers with postings and PDF (reference §5.6-5.7).

* Account, VAT-type and voucher-type ids differ between Tripletex companies, so they are
  resolved by *number* (or name) and cached for the life of the client, never hard-coded.
* A voucher's natural key is ``externalVoucherNumber`` (max 70 chars), looked up with
  ``GET /ledger/voucher/>externalVoucherNumber``: the pattern integrators use in lieu of an
  idempotency key (tripletex-api2#76).
* Uploading an attachment *appends* pages to an existing one, so it is guarded by a look at
  ``voucher.attachment`` first and never repeated after an unknown outcome without looking.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .envelopes import parse_value
from .errors import TripletexOutcomeUnknown
from .locking import Mutate
from .models import Account, Posting, VatType, Voucher, VoucherType
from .natural_keys import Ensured
from .resource import Resource, ids_param

log = logging.getLogger(__name__)

ATTACHMENT_FIELDS = "id,version,attachment(id)"


def check_postings(postings: Sequence[Posting]) -> None:
    """Catch locally what Tripletex would reject with a 422, before anything is sent.

    Manual postings need ``row >= 1`` (row 0 is reserved for system-generated lines) and the
    gross amounts must balance to zero.
    """
    if not postings:
        raise ValueError("a voucher needs postings")
    total = Decimal(0)
    for posting in postings:
        if posting.row is None or posting.row < 1:
            raise ValueError("every manual posting needs row >= 1 (row 0 is system-generated)")
        if posting.amount_gross is None:
            raise ValueError(f"posting row {posting.row} has no amountGross")
        total += posting.amount_gross
    if total.quantize(Decimal("0.01")) != 0:
        raise ValueError(f"postings do not balance: sum of amountGross = {total}")


@dataclass(frozen=True)
class AttachmentResult:
    voucher: Voucher
    uploaded: bool  # this call's upload was answered
    # Found attached on a later look after our upload's answer was lost (almost surely ours).
    recovered: bool = False


class LedgerApi(Resource):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._accounts: dict[int, Account] = {}
        self._vat_types: dict[str, VatType] = {}
        self._voucher_types: dict[str, VoucherType] = {}

    # --- accounts ----------------------------------------------------------------------------

    async def accounts(self, numbers: Sequence[int]) -> dict[int, Account]:
        """Accounts by number (D-L1); cached per client, since ids are per company."""
        missing = [n for n in numbers if n not in self._accounts]
        if missing:
            for account in await self._all("/ledger/account", Account, params={"number": ids_param(missing)}):
                if account.number is not None:
                    self._accounts[account.number] = account
        return {n: self._accounts[n] for n in numbers if n in self._accounts}

    async def account(self, number: int) -> Account | None:
        return (await self.accounts([number])).get(number)

    def iterate_accounts(self, **filters: str | int | bool) -> AsyncIterator[Account]:
        return self._iterate("/ledger/account", Account, params=filters)

    async def ensure_account(self, account: Account) -> Ensured[Account]:
        number = account.number
        if number is None:
            raise ValueError("ensure_account() needs account.number")

        async def create() -> Account:
            created = await self._post("/ledger/account", account, Account)
            self._accounts[number] = created
            return created

        async def find() -> Account | None:
            self._accounts.pop(number, None)
            return await self.account(number)

        return await self._ensure(f"account number={number}", find, create)

    # --- VAT and voucher types -------------------------------------------------------------

    async def vat_type(self, number: str, *, type_of_vat: str | None = None) -> VatType | None:
        """A VAT type by its Norwegian code (``"3"`` = 25 % output VAT), not by id."""
        if number not in self._vat_types:
            params = {"number": number, "typeOfVat": type_of_vat}
            for vat in await self._all("/ledger/vatType", VatType, params=params):
                if vat.number == number:
                    self._vat_types[number] = vat
                    break
        return self._vat_types.get(number)

    async def voucher_type(self, name: str) -> VoucherType | None:
        if name not in self._voucher_types:
            for vt in await self._all("/ledger/voucherType", VoucherType, params={"name": name}):
                if vt.name == name:
                    self._voucher_types[name] = vt
                    break
        return self._voucher_types.get(name)

    # --- vouchers ------------------------------------------------------------------------------

    async def get_voucher(self, voucher_id: int, *, fields: str | None = None) -> Voucher:
        return await self._get(f"/ledger/voucher/{voucher_id}", Voucher, fields=fields)

    def iterate_vouchers(
        self,
        date_from: dt.date,
        date_to_exclusive: dt.date,
        *,
        fields: str | None = None,
        **filters: str | int,
    ) -> AsyncIterator[Voucher]:
        params = {"dateFrom": date_from.isoformat(), "dateTo": date_to_exclusive.isoformat(), **filters}
        return self._iterate("/ledger/voucher", Voucher, params=params, fields=fields)

    async def voucher_by_external_number(
        self, external_number: str, *, fields: str | None = None
    ) -> Voucher | None:
        page = await self._page(
            "/ledger/voucher/>externalVoucherNumber",
            Voucher,
            params={"externalVoucherNumber": external_number},
            fields=fields,
            count=10,
        )
        matches = [v for v in page.values if v.external_voucher_number == external_number]
        return matches[0] if matches else None

    async def create_voucher(self, voucher: Voucher, *, send_to_ledger: bool = True) -> Voucher:
        """Plain create (also creates the postings). Prefer :meth:`ensure_voucher`."""
        check_postings(voucher.postings or [])
        return await self._post("/ledger/voucher", voucher, Voucher, params={"sendToLedger": send_to_ledger})

    async def ensure_voucher(self, voucher: Voucher, *, send_to_ledger: bool = True) -> Ensured[Voucher]:
        """Find by ``externalVoucherNumber`` or create (D-I1, D-P1)."""
        external = voucher.external_voucher_number
        if not external:
            raise ValueError(
                "ensure_voucher() needs voucher.external_voucher_number: it is the idempotency key"
            )
        check_postings(voucher.postings or [])
        return await self._ensure(
            f"voucher external={external}",
            lambda: self.voucher_by_external_number(external),
            lambda: self.create_voucher(voucher, send_to_ledger=send_to_ledger),
        )

    async def update_voucher(self, voucher_id: int, mutate: Mutate[Voucher]) -> Voucher:
        return await self._update(f"/ledger/voucher/{voucher_id}", Voucher, mutate)

    async def upload_attachment_once(
        self, voucher_id: int, filename: str, content: bytes, *, content_type: str = "application/pdf"
    ) -> AttachmentResult:
        """Attach a document unless the voucher already has one (uploads append pages)."""
        path = f"/ledger/voucher/{voucher_id}/attachment"
        unknown = False
        for attempt in range(1, self._t.retry.create_max_attempts + 1):
            current = await self.get_voucher(voucher_id, fields=ATTACHMENT_FIELDS)
            if current.attachment is not None and current.attachment.id:
                return AttachmentResult(current, uploaded=False, recovered=unknown)
            try:
                response = await self._t.request(
                    "POST", path, files={"file": (filename, content, content_type)}, idempotent=False
                )
            except TripletexOutcomeUnknown:
                unknown = True
                log.warning("attachment upload outcome unknown; looking", extra={"voucher_id": voucher_id})
                await self._sleep(self._t.retry.server_error_base_seconds * attempt)
                continue
            return AttachmentResult(parse_value(response, Voucher), uploaded=True)
        current = await self.get_voucher(voucher_id, fields=ATTACHMENT_FIELDS)
        if current.attachment is not None and current.attachment.id:
            return AttachmentResult(current, uploaded=False, recovered=True)
        raise TripletexOutcomeUnknown(f"attachment upload to voucher {voucher_id} did not settle")

    # --- postings ------------------------------------------------------------------------------

    def iterate_postings(
        self,
        date_from: dt.date,
        date_to_exclusive: dt.date,
        *,
        fields: str | None = None,
        **filters: str | int | bool,
    ) -> AsyncIterator[Posting]:
        params = {"dateFrom": date_from.isoformat(), "dateTo": date_to_exclusive.isoformat(), **filters}
        return self._iterate("/ledger/posting", Posting, params=params, fields=fields)

    async def close_postings(self, posting_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Match postings (e.g. an invoice line and its payment) so they close each other."""
        response = await self._t.request("PUT", "/ledger/posting/:closePostings", json=list(posting_ids))
        body = response.json()
        values = body.get("values") if isinstance(body, dict) else None
        return list(values or [])
