"""The simulator's resource shapes: what it stores and returns, and what it accepts.

Request bodies forbid unknown fields so a typo in a writer is a 422, not a silently ignored
field. Stored records carry ``seq`` (creation order, never returned) for stable cursors.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ProjectStatus = Literal["active", "completed", "deleted"]
CustomerStatus = Literal["active", "inactive", "deleted"]
EmployeeStatus = Literal["active", "inactive"]

# Project numbers may hold digits, letters and dots (S-P6); customer numbers may be
# non-numeric (S-C1). Both are strings end to end.
Number = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,49}$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)]
OrgNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{9}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class _Record(BaseModel):
    """Bookkeeping fields come last in each record so dumps and payloads read top-down."""

    model_config = ConfigDict(extra="forbid")


class ProjectRecord(_Record):
    id: str
    display_id: str
    name: str
    start_date: date | None = None
    end_date: date | None = None
    status: ProjectStatus = "active"
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: list[str] = Field(default_factory=list)
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class CustomerRecord(_Record):
    id: str
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
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class EmployeeRecord(_Record):
    id: str
    employee_number: str | None = None
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    status: EmployeeStatus = "active"
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(_Body):
    display_id: Number | None = None
    name: Name
    start_date: date | None = None
    end_date: date | None = None
    status: Literal["active", "completed"] = "active"
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: list[str] = Field(default_factory=list)


class ProjectPatch(_Body):
    display_id: Number | None = None
    name: Name | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: Literal["active", "completed"] | None = None
    customer_id: str | None = None
    member_ids: list[str] | None = None


class CustomerCreate(_Body):
    customer_number: Number | None = None
    name: Name
    organization_number: OrgNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    address_line1: ShortText | None = None
    address_line2: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)] | None = None
    city: ShortText | None = None
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NO"
    status: Literal["active", "inactive"] = "active"


class CustomerPatch(_Body):
    customer_number: Number | None = None
    name: Name | None = None
    organization_number: OrgNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    address_line1: ShortText | None = None
    address_line2: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)] | None = None
    city: ShortText | None = None
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    status: Literal["active", "inactive"] | None = None


class EmployeeCreate(_Body):
    employee_number: Number | None = None
    first_name: Name
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    status: EmployeeStatus = "active"


class EmployeePatch(_Body):
    employee_number: Number | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    status: EmployeeStatus | None = None


WebhookEventType = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*|(project|customer|employee)\.(\*|created|updated|status_changed|deleted))$"
    ),
]


class WebhookCreate(_Body):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None
    event_types: list[WebhookEventType] = Field(default_factory=lambda: ["*"], min_length=1)
    description: ShortText | None = None


class WebhookRecord(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    active: bool = True
    created_at: datetime
    secret: str = Field(exclude=True)

    def wants(self, event_type: str) -> bool:
        resource = event_type.split(".", 1)[0]
        return any(t in ("*", event_type, f"{resource}.*") for t in self.event_types)
