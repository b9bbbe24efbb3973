"""Per-resource operations: list/iterate, get, find by number, create, update, delete.

One generic class holds what projects, customers and employees share; the subclasses add
only their lookups. Updates use optimistic locking: the PATCH carries ``If-Match`` with the
version the change was computed from, and on a 412 the record is re-read and the change
re-computed against it (bounded), so a concurrent edit in Svenn is never overwritten by a
change that was decided on stale data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.restclient.idempotency_key import idempotency_headers
from services.restclient.webhook_subscriptions import WebhookSubscriptionsAPI
from services.svenn.client.errors import SvennVersionConflictError
from services.svenn.client.http import Requester
from services.svenn.client.models import (
    Customer,
    CustomerCreate,
    CustomerUpdate,
    Employee,
    EmployeeCreate,
    EmployeeUpdate,
    Page,
    Project,
    ProjectCreate,
    ProjectUpdate,
    Record,
    WebhookSubscription,
)

M = TypeVar("M", bound=Record)
C = TypeVar("C", bound=BaseModel)
U = TypeVar("U", bound=BaseModel)

Changes = BaseModel | Mapping[str, Any]
Mutation = Callable[[M], Changes | None]

PAGE_SIZE = 100


def _body(changes: Changes) -> dict[str, Any]:
    if isinstance(changes, BaseModel):
        return changes.model_dump(mode="json", exclude_unset=True)
    return dict(changes)


class ResourceAPI(Generic[M, C, U]):
    path: str
    model: type[M]
    create_model: type[C]
    update_model: type[U]

    def __init__(self, requester: Requester, *, conflict_retries: int = 3) -> None:
        self._r = requester
        self.conflict_retries = conflict_retries

    # ----------------------------------------------------------------------- reading
    async def get(self, resource_id: str) -> M:
        response = await self._r.request("GET", f"{self.path}/{resource_id}")
        return self.model.model_validate(response.json())

    async def page(self, *, limit: int = PAGE_SIZE, cursor: str | None = None, **filters: Any) -> Page[M]:
        params = {"limit": limit, "cursor": cursor, **{k: _param(v) for k, v in filters.items()}}
        response = await self._r.request("GET", self.path, params=params)
        raw = response.json()
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

    # ----------------------------------------------------------------------- writing
    async def create(self, data: C | Mapping[str, Any], *, idempotency_key: str | None = None) -> M:
        """Create a record. The idempotency key makes retries safe; pass a stable one
        (e.g. the engine's command id) so even a redelivered command creates only once."""
        body = _body(self.create_model.model_validate(data) if isinstance(data, Mapping) else data)
        headers = idempotency_headers(idempotency_key)
        response = await self._r.request("POST", self.path, json=body, headers=headers)
        return self.model.model_validate(response.json())

    async def patch(
        self, resource_id: str, changes: U | Mapping[str, Any], *, if_match: int | None = None
    ) -> M:
        """One raw PATCH; a stale ``if_match`` raises ``SvennVersionConflictError``."""
        body = _body(self.update_model.model_validate(changes) if isinstance(changes, Mapping) else changes)
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        response = await self._r.request("PATCH", f"{self.path}/{resource_id}", json=body, headers=headers)
        return self.model.model_validate(response.json())

    async def update(self, target: str | M, changes: U | Mapping[str, Any] | Mutation[M]) -> M:
        """Apply ``changes`` under optimistic locking, re-reading and re-applying on conflict.

        ``target`` is an id (read first) or a record already in hand (its version is used).
        ``changes`` is a patch, or a function of the current record returning one (or
        ``None`` for "nothing to do") — use a function when the change depends on the
        current value, e.g. adding a member to ``member_ids``.
        """
        current = await self.get(target) if isinstance(target, str) else target
        for attempt in range(self.conflict_retries + 1):
            patch = changes(current) if callable(changes) else changes
            if patch is None:
                return current
            body = _body(self.update_model.model_validate(patch) if isinstance(patch, Mapping) else patch)
            if not body:
                return current
            try:
                return await self.patch(current.id, body, if_match=current.version)
            except SvennVersionConflictError:
                if attempt == self.conflict_retries:
                    raise
                current = await self.get(current.id)
        raise AssertionError("unreachable")


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return value


class _Deletable(ResourceAPI[M, C, U]):
    async def delete(self, resource_id: str, *, if_match: int | None = None) -> M:
        """Soft delete: the record stays readable with status ``deleted``. Repeating is harmless."""
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        response = await self._r.request("DELETE", f"{self.path}/{resource_id}", headers=headers)
        return self.model.model_validate(response.json())

    def changed_since(self, since: datetime, **filters: Any) -> AsyncIterator[M]:
        """Catch-up polling: everything updated at or after ``since``, deletions included."""
        return self.iterate(updated_since=since, include_deleted=True, **filters)


class ProjectsAPI(_Deletable[Project, ProjectCreate, ProjectUpdate]):
    path = "/api/v1/projects"
    model = Project
    create_model = ProjectCreate
    update_model = ProjectUpdate

    async def find_by_display_id(self, display_id: str, *, include_deleted: bool = False) -> list[Project]:
        """All projects showing ``display_id``: several when sub-projects reuse it (S-P2)."""
        return await self.list_all(display_id=display_id, include_deleted=include_deleted)

    async def find_top_level_by_display_id(self, display_id: str) -> Project | None:
        """The one live top-level project with this display id (they are unique), if any."""
        matches = [p for p in await self.find_by_display_id(display_id) if p.parent_id is None]
        return matches[0] if matches else None


class CustomersAPI(_Deletable[Customer, CustomerCreate, CustomerUpdate]):
    path = "/api/v1/customers"
    model = Customer
    create_model = CustomerCreate
    update_model = CustomerUpdate

    async def find_by_number(self, customer_number: str) -> Customer | None:
        """The live customer with this number (unique among non-deleted customers), if any."""
        page = await self.page(limit=1, customer_number=customer_number)
        return page.data[0] if page.data else None

    async def find_by_email(self, email: str) -> list[Customer]:
        return await self.list_all(email=email)

    async def find_by_organization_number(self, organization_number: str) -> list[Customer]:
        return await self.list_all(organization_number=organization_number)


class EmployeesAPI(ResourceAPI[Employee, EmployeeCreate, EmployeeUpdate]):
    path = "/api/v1/employees"
    model = Employee
    create_model = EmployeeCreate
    update_model = EmployeeUpdate

    async def find_by_number(self, employee_number: str) -> Employee | None:
        page = await self.page(limit=1, employee_number=employee_number)
        return page.data[0] if page.data else None

    async def find_by_email(self, email: str) -> Employee | None:
        page = await self.page(limit=1, email=email)
        return page.data[0] if page.data else None

    def changed_since(self, since: datetime, **filters: Any) -> AsyncIterator[Employee]:
        return self.iterate(updated_since=since, **filters)


class WebhooksAPI(WebhookSubscriptionsAPI[WebhookSubscription]):
    model = WebhookSubscription
