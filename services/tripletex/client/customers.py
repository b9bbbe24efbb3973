"""Customers (reference §5.2).

Natural key: ``customerNumber``. The only filter for it is ``customerAccountNumber`` ("List of
customer numbers"), and ``isInactive`` defaults to ``false``, which hides inactive customers.
A lookup that forgot them would create a duplicate of every deactivated customer, so
:meth:`CustomersApi.by_number` asks twice, once per ``isInactive`` value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from .locking import Mutate, Updated
from .models import Customer
from .natural_keys import Ensured
from .resource import Resource


class CustomersApi(Resource):
    async def get(self, customer_id: int, *, fields: str | None = None) -> Customer:
        return await self._get(f"/customer/{customer_id}", Customer, fields=fields)

    def iterate(
        self, *, fields: str | None = None, page_size: int = 1000, **filters: str | int | bool
    ) -> AsyncIterator[Customer]:
        """Every customer matching the ``GET /customer`` filters (mind ``isInactive``)."""
        return self._iterate("/customer", Customer, params=filters, fields=fields, page_size=page_size)

    async def by_number(self, customer_number: int, *, fields: str | None = None) -> Customer | None:
        """The customer with this number, active or inactive."""
        for inactive in (False, True):
            page = await self._page(
                "/customer",
                Customer,
                params={"customerAccountNumber": str(customer_number), "isInactive": inactive},
                fields=fields,
                count=10,
            )
            for customer in page.values:
                if customer.customer_number == customer_number:
                    return customer
        return None

    async def by_organization_number(self, organization_number: str) -> list[Customer]:
        """Fallback key; not unique in Tripletex, so the caller decides among the matches."""
        found: list[Customer] = []
        for inactive in (False, True):
            page = await self._page(
                "/customer",
                Customer,
                params={"organizationNumber": organization_number, "isInactive": inactive},
                count=100,
            )
            found.extend(c for c in page.values if c.organization_number == organization_number)
        return found

    async def create(self, customer: Customer) -> Customer:
        """Plain create. Prefer :meth:`ensure`, which cannot duplicate."""
        return await self._post("/customer", customer, Customer)

    async def ensure(self, customer: Customer) -> Ensured[Customer]:
        """Find by ``customerNumber`` (incl. inactive) or create (D-C1)."""
        number = customer.customer_number
        if number is None:
            raise ValueError("ensure() needs customer.customer_number: it is the idempotency key")
        return await self._ensure(
            f"customer number={number}", lambda: self.by_number(number), lambda: self.create(customer)
        )

    async def update(self, customer_id: int, mutate: Mutate[Customer]) -> Customer:
        return await self._update(f"/customer/{customer_id}", Customer, mutate)

    async def revise(
        self, customer_id: int, mutate: Mutate[Customer], *, fields: str | None = None
    ) -> Updated[Customer]:
        """:meth:`update`, also saying what was sent (nothing when already up to date).

        ``fields`` widens the read the change is computed against (e.g. to expand a nested
        address, which a plain read returns as ``{id, url}`` only).
        """
        return await self._update_reporting(f"/customer/{customer_id}", Customer, mutate, fields=fields)
