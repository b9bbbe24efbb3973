"""Which query parameters each list GET accepts, and how each narrows the result.

Names and matching modes (Equals, Containing, List of IDs, From-and-including,
To-and-excluding) are the ones in the parameter descriptions of the vendored spec; the
required date windows are REFERENCE §2's.
"""

from __future__ import annotations

from typing import Any

from services.tripletex.simulator import search
from services.tripletex.simulator.search import Filter, SearchSpec

Row = dict[str, Any]


def _ref(row: Row, name: str) -> int | None:
    value = row.get(name)
    return value.get("id") if isinstance(value, dict) else None


def _employee_in_project(row: Row, raw: str) -> bool:
    wanted = search.parse_ids("employeeInProjectId", raw)
    members = {_ref(p, "employee") for p in row.get("_participantRows", [])}
    return bool(wanted & (members | {_ref(row, "projectManager")}))


def _changed_since(row: Row, raw: str) -> bool:
    stamps = [c.get("timestamp", "") for c in row.get("changes") or []]
    return bool(stamps) and max(stamps) >= raw.replace(" ", "T")


def _vat_direction(row: Row, raw: str) -> bool:
    name = str(row.get("name", ""))
    outgoing = name.startswith("Utgående") or name.startswith("Ingen utgående")
    incoming = name.startswith("Fradrag inngående")
    return {"OUTGOING": outgoing, "INCOMING": incoming}.get(raw.upper(), True)


def _has_system_access(row: Row, raw: str) -> bool:
    return (row.get("userType") not in (None, "", "NO_ACCESS")) == search.parse_bool("hasSystemAccess", raw)


def _project_managers(row: Row, raw: str) -> bool:
    return not search.parse_bool("assignableProjectManagers", raw) or row.get("userType") != "NO_ACCESS"


def _include_contacts(row: Row, raw: str) -> bool:
    return search.parse_bool("includeContacts", raw) or not row.get("isContact")


def _balance_account(row: Row, raw: str) -> bool:
    return (int(row.get("number") or 0) < 3000) == search.parse_bool("isBalanceAccount", raw)


SEARCHES: dict[str, SearchSpec] = {
    "Project": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("name", "contains"),
            Filter("number", "equals"),
            Filter("isOffer", "bool"),
            Filter("projectManagerId", "ids", "projectManager.id"),
            Filter("employeeInProjectId", "custom", custom=_employee_in_project),
            Filter("departmentId", "ids", "department.id"),
            Filter("startDateFrom", "date_from", "startDate"),
            Filter("startDateTo", "date_to", "startDate"),
            Filter("endDateFrom", "date_from", "endDate"),
            Filter("endDateTo", "date_to", "endDate"),
            Filter("isClosed", "bool"),
            Filter("isFixedPrice", "bool"),
            Filter("customerId", "ids", "customer.id"),
            Filter("externalAccountsNumber", "contains"),
        )
    ),
    "Customer": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("customerAccountNumber", "strings", "customerNumber"),
            Filter("organizationNumber", "equals"),
            Filter("email", "equals"),
            Filter("invoiceEmail", "equals"),
            Filter("customerName", "contains", "name"),
            Filter("phoneNumberMobile", "equals"),
            Filter("isInactive", "bool"),
            Filter("accountManagerId", "ids", "accountManager.id"),
            Filter("changedSince", "custom", custom=_changed_since),
        ),
        defaults=(("isInactive", "false"),),
    ),
    "Employee": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("firstName", "contains"),
            Filter("lastName", "contains"),
            Filter("employeeNumber", "equals"),
            Filter("email", "contains"),
            Filter("departmentId", "ids", "department.id"),
            Filter("assignableProjectManagers", "custom", custom=_project_managers),
            Filter("onlyProjectManagers", "custom", custom=_project_managers),
            Filter("includeContacts", "custom", custom=_include_contacts),
            Filter("hasSystemAccess", "custom", custom=_has_system_access),
        ),
        defaults=(("includeContacts", "false"),),
    ),
    "Activity": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("name", "contains"),
            Filter("number", "equals"),
            Filter("description", "contains"),
            Filter("isProjectActivity", "bool"),
            Filter("isGeneral", "bool"),
            Filter("isChargeable", "bool"),
            Filter("isTask", "bool"),
            Filter("isInactive", "bool", "isDisabled"),
        )
    ),
    "ActivityForTimeSheet": SearchSpec(
        (Filter("query", "contains", "name"),),
    ),
    "TimesheetEntry": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("employeeId", "ids", "employee.id"),
            Filter("projectId", "ids", "project.id"),
            Filter("activityId", "ids", "activity.id"),
            Filter("dateFrom", "date_from", "date"),
            Filter("dateTo", "date_to", "date"),
            Filter("comment", "contains"),
        ),
        required=("dateFrom", "dateTo"),
    ),
    "ProjectHourlyRate": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("projectId", "ids", "project.id"),
            Filter("type", "equals", "hourlyRateModel"),
            Filter("startDateFrom", "date_from", "startDate"),
            Filter("startDateTo", "date_to", "startDate"),
            Filter("showInProjectOrder", "bool"),
        )
    ),
    "Account": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("number", "strings"),
            Filter("isBankAccount", "bool"),
            Filter("isInactive", "bool"),
            Filter("isApplicableForSupplierInvoice", "bool"),
            Filter("ledgerType", "equals"),
            Filter("isBalanceAccount", "custom", custom=_balance_account),
            Filter("saftCode", "equals"),
        )
    ),
    "VatType": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("number", "strings"),
            Filter("typeOfVat", "custom", custom=_vat_direction),
        )
    ),
    "VoucherType": SearchSpec((Filter("name", "contains"),)),
    "Voucher": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("number", "strings"),
            Filter("numberFrom", "custom", custom=lambda r, v: int(r.get("number") or 0) >= int(v)),
            Filter("numberTo", "custom", custom=lambda r, v: int(r.get("number") or 0) < int(v)),
            Filter("typeId", "ids", "voucherType.id"),
            Filter("dateFrom", "date_from", "date"),
            Filter("dateTo", "date_to", "date"),
        ),
        required=("dateFrom", "dateTo"),
    ),
    "VoucherByExternalNumber": SearchSpec((Filter("externalVoucherNumber", "equals"),)),
    "Posting": SearchSpec(
        (
            Filter("dateFrom", "date_from", "date"),
            Filter("dateTo", "date_to", "date"),
            Filter(
                "openPostings", "custom", custom=lambda r, v: (r.get("closeGroup") is None) == (v == "true")
            ),
            Filter("accountId", "ids", "account.id"),
            Filter("supplierId", "ids", "supplier.id"),
            Filter("customerId", "ids", "customer.id"),
            Filter("employeeId", "ids", "employee.id"),
            Filter("departmentId", "ids", "department.id"),
            Filter("projectId", "ids", "project.id"),
            Filter("productId", "ids", "product.id"),
            Filter("type", "equals"),
        ),
        required=("dateFrom", "dateTo"),
    ),
    "Invoice": SearchSpec(
        (
            Filter("id", "ids"),
            Filter("invoiceDateFrom", "date_from", "invoiceDate"),
            Filter("invoiceDateTo", "date_to", "invoiceDate"),
            Filter("invoiceNumber", "equals"),
            Filter("kid", "equals"),
            Filter("voucherId", "ids", "voucher.id"),
            Filter("customerId", "ids", "customer.id"),
        ),
        required=("invoiceDateFrom", "invoiceDateTo"),
    ),
    "PaymentType": SearchSpec(
        (Filter("id", "ids"), Filter("description", "contains"), Filter("query", "contains", "description"))
    ),
    "Subscription": SearchSpec(),
}
