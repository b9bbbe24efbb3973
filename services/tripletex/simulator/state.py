"""The simulator's memory: companies, their objects, sessions, rate budgets.

Every handler runs on one asyncio event loop and mutates state without awaiting in the
middle, so a request's changes are atomic with respect to other requests; no locks needed.
Ids come from one counter for the whole simulator, like Tripletex's global ids, so an id
from one company never silently finds an object in another.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.tripletex.simulator import seed
from services.tripletex.simulator.faults import FaultConfig, RateLimiter
from services.tripletex.simulator.webhooks import WebhookConfig, WebhookDispatcher

OSLO = ZoneInfo("Europe/Oslo")


@dataclass
class Session:
    """A minted session token. Valid while today's date in Oslo is before `expiration_date`:
    "the session token expires at midnight on the date given", so a token minted with
    today's date is already expired (REFERENCE §1)."""

    id: int
    token: str
    consumer_token: str
    employee_token: str
    expiration_date: date
    company_id: int
    employee_id: int


@dataclass
class Company:
    """One Tripletex account (tenant) with its own tokens and objects."""

    id: int
    name: str
    consumer_token: str
    employee_token: str
    api_employee_id: int = 0
    data: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    """Schema name (e.g. "Project") -> id -> stored object."""
    files: dict[int, bytes] = field(default_factory=dict)
    """Document id -> content of voucher attachments."""
    voucher_numbers: dict[int, int] = field(default_factory=dict)
    faults: FaultConfig = field(default_factory=FaultConfig)

    def table(self, schema: str) -> dict[int, dict[str, Any]]:
        return self.data.setdefault(schema, {})

    def get(self, schema: str, object_id: int) -> dict[str, Any] | None:
        return self.data.get(schema, {}).get(object_id)

    def find(self, schema: str, **equals: Any) -> list[dict[str, Any]]:
        return [row for row in self.table(schema).values() if all(row.get(k) == v for k, v in equals.items())]

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "consumerToken": self.consumer_token,
            "employeeToken": self.employee_token,
            "apiEmployeeId": self.api_employee_id,
            "faults": self.faults.to_json(),
            "data": {schema: list(rows.values()) for schema, rows in self.data.items()},
        }


class SimulatorState:
    """All simulated companies plus the cross-company machinery (sessions, limits, webhooks)."""

    def __init__(
        self,
        *,
        webhook_config: WebhookConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng_seed: int | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self.random = random.Random(rng_seed)
        self.webhooks = WebhookDispatcher(webhook_config or WebhookConfig())
        self.rate_limiter = RateLimiter()
        self.companies: dict[int, Company] = {}
        self.sessions: dict[str, Session] = {}
        self._next_id = 1000

    # -- ids, time ---------------------------------------------------------------------
    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def now(self) -> datetime:
        return self.clock()

    def today_in_oslo(self) -> date:
        return self.now().astimezone(OSLO).date()

    def timestamp(self) -> str:
        """Tripletex DateTime format `YYYY-MM-DDThh:mm:ss` (Oslo time)."""
        return self.now().astimezone(OSLO).strftime("%Y-%m-%dT%H:%M:%S")

    # -- companies ---------------------------------------------------------------------
    def create_company(
        self, name: str, *, consumer_token: str | None = None, employee_token: str | None = None
    ) -> Company:
        company = Company(
            id=self.new_id(),
            name=name,
            consumer_token=consumer_token or f"consumer-{secrets.token_hex(12)}",
            employee_token=employee_token or f"employee-{secrets.token_hex(12)}",
        )
        self.companies[company.id] = company
        self._seed(company)
        return company

    def company_by_employee_token(self, token: str) -> Company | None:
        return next((c for c in self.companies.values() if c.employee_token == token), None)

    def reset(self) -> None:
        """Forget every company, session, budget and webhook record."""
        self.companies.clear()
        self.sessions.clear()
        self.rate_limiter.reset()
        self.webhooks.reset()

    def insert(
        self, company: Company, schema: str, obj: dict[str, Any], employee_id: int | None = None
    ) -> dict[str, Any]:
        """Store a new object with a fresh id, version 0 and a CREATE change."""
        obj["id"] = self.new_id()
        obj["version"] = 0
        obj["changes"] = [self._change(company, "CREATE", employee_id)]
        company.table(schema)[obj["id"]] = obj
        return obj

    def touch(self, company: Company, obj: dict[str, Any], employee_id: int | None = None) -> None:
        """Record one more change: the version goes up by one."""
        obj["version"] = int(obj.get("version", 0)) + 1
        obj.setdefault("changes", []).append(self._change(company, "UPDATE", employee_id))

    def _change(self, company: Company, change_type: str, employee_id: int | None) -> dict[str, Any]:
        return {
            "employeeId": employee_id if employee_id is not None else company.api_employee_id,
            "timestamp": self.timestamp(),
            "changeType": change_type,
        }

    # -- sessions ----------------------------------------------------------------------
    def mint_session(self, company: Company, expiration: date) -> Session:
        session_id = self.new_id()
        # Shaped like Tripletex's tokens (base64 of a small JSON document). No dashes
        # (tripletex-api2#57), and no '/' or '+' so the token can sit in a URL path
        # (`DELETE /token/session/{token}`).
        token = ""
        while not token or "/" in token or "+" in token:
            raw = json.dumps({"tokenId": session_id, "token": uuid.uuid4().hex}).encode()
            token = base64.b64encode(raw).decode()
        session = Session(
            id=session_id,
            token=token,
            consumer_token=company.consumer_token,
            employee_token=company.employee_token,
            expiration_date=expiration,
            company_id=company.id,
            employee_id=company.api_employee_id,
        )
        self.sessions[token] = session
        return session

    def valid_session(self, token: str) -> Session | None:
        session = self.sessions.get(token)
        if session is None or session.company_id not in self.companies:
            return None
        if self.today_in_oslo() >= session.expiration_date:
            return None
        return session

    # -- seed --------------------------------------------------------------------------
    def _seed(self, company: Company) -> None:
        department = self.insert(
            company,
            "Department",
            {"name": "Hovedavdeling", "departmentNumber": "1", "displayName": "Hovedavdeling"},
        )
        nok = self.insert(company, "Currency", {"code": "NOK", "description": "Norske kroner", "factor": 1})
        # The company object uses the company id itself (whoAmI's companyId == company.id).
        company.table("Company")[company.id] = {
            "id": company.id,
            "version": 0,
            "name": company.name,
            "displayName": company.name,
            "currency": {"id": nok["id"]},
            "type": "AS",
        }
        api_user = self.insert(
            company,
            "Employee",
            {
                "firstName": "API",
                "lastName": "Bruker",
                "displayName": "API Bruker",
                "employeeNumber": "1",
                "email": f"api@{company.id}.example.no",
                "userType": "EXTENDED",
                "department": {"id": department["id"]},
                "companyId": company.id,
                "allowInformationRegistration": True,
            },
        )
        company.api_employee_id = api_user["id"]
        vat_ids: dict[str, int] = {}
        for code, vat_name, percentage, deduction in seed.VAT_TYPES:
            vat_ids[code] = self.insert(
                company, "VatType", seed.vat_type(code, vat_name, percentage, deduction)
            )["id"]
        account_ids: dict[int, int] = {}
        for number, name, account_type, ledger_type, vat_code, bank in seed.ACCOUNTS:
            row = seed.account(
                number, name, account_type, ledger_type, vat_ids[vat_code] if vat_code else None, bank
            )
            row["currency"] = {"id": nok["id"]}
            account_ids[number] = self.insert(company, "Account", row)["id"]
        for name in seed.VOUCHER_TYPES:
            self.insert(company, "VoucherType", {"name": name, "displayName": name})
        for description, debit in seed.PAYMENT_TYPES:
            self.insert(
                company,
                "PaymentType",
                {
                    "description": description,
                    "displayName": description,
                    "debitAccount": {"id": account_ids[debit]},
                    "creditAccount": {"id": account_ids[1500]},
                    "currencyCode": "NOK",
                },
            )
