"""Side-neutral snapshots of the records the engine syncs.

Ingest maps each side's own shape (a Svenn project's ``display_id``, a Tripletex project's
``number``) into these, so the decision rules read one vocabulary and the writers map back.
Numbers are strings everywhere: project numbers may hold letters and dots (S-P6) and Svenn
customer ids may be non-numeric (S-C1), so nothing may parse them as integers on the way.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    # Svenn calls it "completed", Tripletex "closed" (isClosed=true): one state (S-P7).
    COMPLETED = "completed"


class ProjectSnapshot(_Snapshot):
    kind: Literal["project"] = "project"
    number: str | None = None
    name: str
    start_date: date | None = None
    end_date: date | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    is_internal: bool = False
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: tuple[str, ...] = ()


class CustomerSnapshot(_Snapshot):
    kind: Literal["customer"] = "customer"
    customer_number: str | None = None
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line: str | None = None
    postal_code: str | None = None
    city: str | None = None
    active: bool = True
    invoice_send_method: str | None = None


class EmployeeSnapshot(_Snapshot):
    kind: Literal["employee"] = "employee"
    employee_number: str | None = None
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    active: bool = True


EntitySnapshot = Annotated[
    ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot,
    Field(discriminator="kind"),
]
