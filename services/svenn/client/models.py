"""Typed shapes of Svenn's resources as the client sees them.

Response models ignore unknown fields, so Svenn adding a field never breaks a running
engine; request models forbid them, so a typo in our code fails here rather than as a 422
from the server. Numbers (``display_id``, ``customer_number``, ``employee_number``) are
strings: project numbers hold letters and dots (S-P6), customer numbers may be
non-numeric (S-C1).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ProjectStatus = Literal["active", "completed", "deleted"]
CustomerStatus = Literal["active", "inactive", "deleted"]
EmployeeStatus = Literal["active", "inactive"]
ResourceType = Literal["project", "customer", "employee"]


class Record(BaseModel):
    """Fields every Svenn record has; ``version`` is what optimistic locking compares."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    version: int
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime


class Project(Record):
    display_id: str
    name: str
    start_date: date | None = None
    end_date: date | None = None
    status: ProjectStatus = "active"
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: tuple[str, ...] = ()

    @property
    def is_subproject(self) -> bool:
        return self.parent_id is not None


class Customer(Record):
    customer_number: str
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str = "NO"
    status: CustomerStatus = "active"


class Employee(Record):
    employee_number: str | None = None
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    status: EmployeeStatus = "active"


class _Write(BaseModel):
    """Only fields the caller actually set are sent (``exclude_unset``): None means "clear it"."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class ProjectCreate(_Write):
    display_id: str | None = None
    name: str
    start_date: date | None = None
    end_date: date | None = None
    status: Literal["active", "completed"] = "active"
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: list[str] = Field(default_factory=list)


class ProjectUpdate(_Write):
    display_id: str | None = None
    name: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: Literal["active", "completed"] | None = None
    customer_id: str | None = None
    member_ids: list[str] | None = None


class CustomerCreate(_Write):
    customer_number: str | None = None
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    status: Literal["active", "inactive"] = "active"


class CustomerUpdate(_Write):
    customer_number: str | None = None
    name: str | None = None
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    status: Literal["active", "inactive"] | None = None


class EmployeeCreate(_Write):
    employee_number: str | None = None
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    status: EmployeeStatus = "active"


class EmployeeUpdate(_Write):
    employee_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    status: EmployeeStatus | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="ignore")

    data: list[T]
    has_more: bool = False
    next_cursor: str | None = None


class WebhookSubscription(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    url: str
    event_types: tuple[str, ...] = ("*",)
    description: str | None = None
    active: bool = True
    created_at: datetime | None = None
    # Present only in the response that created the subscription with a generated secret.
    secret: str | None = Field(default=None, repr=False)


class WebhookEvent(BaseModel):
    """One change notification, as POSTed by Svenn (after its signature was verified)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    event_type: str
    occurred_at: AwareDatetime
    tenant: str
    resource_type: ResourceType
    resource_id: str
    resource_version: int
    data: dict[str, Any]

    @property
    def change(self) -> str:
        """``created``, ``updated``, ``status_changed`` or ``deleted``."""
        return self.event_type.split(".", 1)[1]

    def record(self) -> Project | Customer | Employee:
        """The changed record as of ``resource_version``, typed by ``resource_type``."""
        if self.resource_type == "project":
            return Project.model_validate(self.data)
        if self.resource_type == "customer":
            return Customer.model_validate(self.data)
        return Employee.model_validate(self.data)
