"""Employees (reference §5.3).

Natural key: ``employeeNumber`` (a string, filter is Equals), then e-mail. The ``email``
filter is *Containing*, so ``ola@x.no`` also matches ``kola@x.no``: results are post-filtered
for an exact, case-insensitive match. There is no DELETE and no PUT-list for employees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from .locking import Mutate, Updated
from .models import Employee
from .natural_keys import Ensured
from .resource import Resource


class EmployeesApi(Resource):
    async def get(self, employee_id: int, *, fields: str | None = None) -> Employee:
        return await self._get(f"/employee/{employee_id}", Employee, fields=fields)

    def iterate(
        self, *, fields: str | None = None, page_size: int = 1000, **filters: str | int | bool
    ) -> AsyncIterator[Employee]:
        return self._iterate("/employee", Employee, params=filters, fields=fields, page_size=page_size)

    async def by_number(self, employee_number: str, *, fields: str | None = None) -> Employee | None:
        page = await self._page(
            "/employee", Employee, params={"employeeNumber": employee_number}, fields=fields, count=10
        )
        matches = [e for e in page.values if e.employee_number == employee_number]
        return matches[0] if matches else None

    async def by_email(self, email: str, *, fields: str | None = None) -> Employee | None:
        wanted = email.strip().lower()
        page = await self._page(
            "/employee", Employee, params={"email": email.strip()}, fields=fields, count=100
        )
        matches = [e for e in page.values if (e.email or "").strip().lower() == wanted]
        return matches[0] if matches else None

    async def find(self, *, employee_number: str | None = None, email: str | None = None) -> Employee | None:
        """By number first, then by e-mail (emails are unique per Tripletex company)."""
        if employee_number:
            found = await self.by_number(employee_number)
            if found is not None:
                return found
        if email:
            return await self.by_email(email)
        return None

    async def create(self, employee: Employee) -> Employee:
        """Plain create. Prefer :meth:`ensure`, which cannot duplicate."""
        return await self._post("/employee", employee, Employee)

    async def ensure(self, employee: Employee) -> Ensured[Employee]:
        """Find by ``employeeNumber`` then ``email``, or create."""
        number, email = employee.employee_number, employee.email
        if not number and not email:
            raise ValueError("ensure() needs employee_number or email: one of them is the idempotency key")
        return await self._ensure(
            f"employee number={number} email={'set' if email else 'none'}",
            lambda: self.find(employee_number=number, email=email),
            lambda: self.create(employee),
        )

    async def update(self, employee_id: int, mutate: Mutate[Employee]) -> Employee:
        return await self._update(f"/employee/{employee_id}", Employee, mutate)

    async def revise(
        self, employee_id: int, mutate: Mutate[Employee], *, fields: str | None = None
    ) -> Updated[Employee]:
        """:meth:`update`, also saying what was sent (nothing when already up to date).

        ``fields`` widens the read the change is computed against (e.g. to expand a nested
        address, which a plain read returns as ``{id, url}`` only).
        """
        return await self._update_reporting(f"/employee/{employee_id}", Employee, mutate, fields=fields)

    async def numbers(self) -> list[str]:
        """Every employee number in use, for generating a new one (S-E2)."""
        found: set[str] = set()
        async for employee in self.iterate(fields="id,employeeNumber"):
            if employee.employee_number:
                found.add(employee.employee_number)
        return sorted(found)
