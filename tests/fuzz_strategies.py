"""Hypothesis strategies for the fuzz suites: hostile values, and hostile variants of every body.

Each body the engine takes from outside (a webhook of each side, the hours export, a change on the
internal ingest API, every message type on Kafka) has a *template*: a valid instance, drawn with
varied ids and values. ``mutated`` then damages a few of its nodes: a value replaced by hostile
JSON (wrong types, huge and empty strings, NUL and other control characters, lone surrogates,
numbers beyond any column), a key removed, an unknown key added, a list blown up. With no
mutation drawn the body is valid, so the fuzz also reaches the paths behind the checks.
``raw_bodies`` adds what is not JSON at all. ``CASES`` counts the cases each target tried; the
test session prints it (``tests/conftest.py``).

``FUZZ_EXAMPLES=<n>`` multiplies nothing: it *sets* every fuzz test's example count, for a
longer run by hand (e.g. ``FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/integration/test_fuzz_http.py``).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

CASES: Counter[str] = Counter()
"""Cases tried per fuzz target in this session (printed at the end of the run)."""
FATES: Counter[tuple[str, str]] = Counter()
"""What became of them, per target: an HTTP status, dead-lettered, handled (printed under each)."""


def fuzz_examples(default: int) -> int:
    """The example count of one fuzz test: ``FUZZ_EXAMPLES`` when set, else ``default`` (CI)."""
    return int(os.environ.get("FUZZ_EXAMPLES") or default)


# --------------------------------------------------------------------------- hostile leaves
CONTROL = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x1F),
    st.sampled_from(["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\U0010ffff"]),
)
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
SPECIAL = [
    "' OR 1=1 --",
    "'; DROP TABLE link; --",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "\\u0000",
    "null",
    "NaN",
    "-0",
    "1e999",
    "9" * 40,
    "0x1F",
    "\u202eevil",
    "a|b|c",
]
HUGE_LENGTHS = [101, 201, 256, 1001, 2001, 4001, 70_000]

hostile_text: st.SearchStrategy[str] = st.one_of(
    st.just(""),
    st.just(" "),
    st.text(max_size=30),
    st.text(alphabet=st.one_of(CONTROL, st.characters()), max_size=30),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), SURROGATE, st.text(max_size=5)),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "\x00", "ø", "😀", "9", " "]), st.sampled_from(HUGE_LENGTHS)
    ),
    st.sampled_from(SPECIAL),
)
"""Strings no field should be trusted with."""

hostile_int: st.SearchStrategy[int] = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(
        [
            2**31 - 1,
            2**31,
            2**53 + 1,
            2**63 - 1,
            2**63,
            -(2**63),
            -(2**63) - 1,
            2**64,
            10**30,
            -(10**30),
            10**400,
        ]
    ),
    st.integers(),
)
hostile_float: st.SearchStrategy[float] = st.one_of(
    st.sampled_from([0.0, -0.0, 0.1, 1e308, -1e308, 5e-324, float("nan"), float("inf"), float("-inf")]),
    st.floats(),
)
hostile_moment: st.SearchStrategy[str] = st.sampled_from(
    [
        "0001-01-01",
        "9999-12-31",
        "2026-02-30",
        "2026-13-01",
        "2026-1-1",
        "-2026-01-01",
        "20260101",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59.999999+00:00",
        "2026-11-02T10:00:00",  # naive
        "2026-11-02T25:00:00Z",
        "2026-11-02T10:00:00+99:00",
        "1970-01-01T00:00:00Z",
    ]
)

json_leaves: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), hostile_int, hostile_float, hostile_text, hostile_moment
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(hostile_text, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
"""Any JSON value (and a few Python ones JSON only writes by convention: NaN, Infinity)."""


def encode(document: Any, ascii_only: bool = True) -> bytes:
    """``document`` as the bytes a sender puts on the wire; lone surrogates stay (escaped or raw)."""
    return json.dumps(document, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


raw_bodies: st.SearchStrategy[bytes] = st.one_of(
    st.just(b""),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"{",
            b"null",
            b"[]",
            b"{}",
            b'"x"',
            b"\xef\xbb\xbf{}",  # a byte-order mark
            b"\xff\xfe{\x00}\x00",  # UTF-16
            b'{"a": 1, "a": 2}',
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"a": NaN, "b": Infinity}',
            b'{"a": 1e999999}',
            b'{"a": "\\ud800"}',
            b'{"a": "\\u0000"}',
        ]
    ),
    st.builds(encode, json_values, st.booleans()),
)
"""Bodies that are not the expected JSON at all: empty, binary, unbalanced, deeply nested, huge numbers."""


# --------------------------------------------------------------------------- mutation
def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


_MUTATIONS = ("replace", "text", "number", "moment", "null", "delete", "wrong_container", "blow_up")


@st.composite
def mutated(draw: st.DrawFn, templates: st.SearchStrategy[dict[str, Any]], most: int = 3) -> dict[str, Any]:
    """A drawn template with up to ``most`` hostile mutations (none: the valid template itself)."""
    document = copy.deepcopy(draw(templates))
    for _ in range(draw(st.integers(0, most))):
        paths = list(_paths(document))
        if not paths or draw(st.integers(0, 9)) == 0:
            document[draw(st.one_of(hostile_text, st.text(max_size=8)))] = draw(json_values)
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(document, path)
        key = path[-1]
        kind = draw(st.sampled_from(_MUTATIONS))
        if kind == "delete":
            del parent[key]
        elif kind == "blow_up":  # a list past the contracts' 1000 items (of a small value: under 1 MiB)
            small = len(json.dumps(parent[key], default=str)) < 200
            parent[key] = [parent[key]] * (draw(st.sampled_from([2, 1001, 5000])) if small else 2)
        elif kind == "wrong_container":
            parent[key] = draw(st.sampled_from([{}, [], {"value": copy.deepcopy(parent[key])}]))
        else:
            strategy = {
                "replace": json_values,
                "text": hostile_text,
                "number": st.one_of(hostile_int, hostile_float),
                "moment": hostile_moment,
                "null": st.none(),
            }[kind]
            parent[key] = draw(strategy)
    return document


# --------------------------------------------------------------------------- valid pieces
ids: st.SearchStrategy[str] = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12
)
names: st.SearchStrategy[str] = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs", "P"], exclude_characters="\u2028\u2029"),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
versions: st.SearchStrategy[int] = st.integers(1, 10**6)
days: st.SearchStrategy[date] = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


def stamp(offset_s: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()


# --------------------------------------------------------------------------- Svenn webhooks
def webhook_event(tenant: str, resource: str, record: dict[str, Any], change: str) -> dict[str, Any]:
    """Svenn's and Drifti's webhook body (one shape): the record at its version, for ``tenant``."""
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event_type": f"{resource}.{change}",
        "occurred_at": stamp(),
        "tenant": tenant,
        "resource_type": resource,
        "resource_id": record.get("id"),
        "resource_version": record.get("version"),
        "data": record,
    }


@st.composite
def svenn_records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    resource = draw(st.sampled_from(["project", "customer", "employee"]))
    record: dict[str, Any] = {
        "id": f"{resource[:3]}_{draw(ids)}",
        "version": draw(versions),
        "created_at": stamp(-3600),
        "updated_at": stamp(),
    }
    if resource == "project":
        record |= {
            "display_id": draw(st.sampled_from(["2024.17", "P-1", "77"])),
            "name": draw(names),
            "start_date": draw(st.none() | days.map(date.isoformat)),
            "status": draw(st.sampled_from(["active", "completed", "deleted"])),
            "customer_id": draw(st.none() | ids.map(lambda i: f"cus_{i}")),
            "member_ids": draw(st.lists(ids.map(lambda i: f"emp_{i}"), max_size=3)),
        }
    elif resource == "customer":
        record |= {
            "customer_number": draw(st.sampled_from(["10042", "055", "A-7"])),
            "name": draw(names),
            "email": draw(st.none() | st.just("post@example.no")),
            "status": draw(st.sampled_from(["active", "inactive", "deleted"])),
        }
    else:
        record |= {
            "first_name": draw(names),
            "last_name": draw(st.none() | names),
            "email": draw(st.none() | st.just("kari@example.no")),
            "employee_number": draw(st.none() | st.just("12")),
        }
    return resource, record


def svenn_webhooks(tenant: str) -> st.SearchStrategy[dict[str, Any]]:
    """Svenn's webhook body for ``tenant`` (services/svenn/API.md), valid as drawn."""

    def event(drawn: tuple[str, dict[str, Any]], change: str) -> dict[str, Any]:
        return webhook_event(tenant, *drawn, change)

    return st.builds(
        event, svenn_records(), st.sampled_from(["created", "updated", "status_changed", "deleted"])
    )


# --------------------------------------------------------------------------- Drifti webhooks
@st.composite
def drifti_records(draw: st.DrawFn, refs: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """A Drifti record; ``refs`` holds ids that exist in the tenant's Drifti (customer, job, invoice)."""
    resource = draw(st.sampled_from(["customer", "job", "invoice", "payment"]))
    record: dict[str, Any] = {
        "id": f"{resource[:3]}_{draw(ids)}",
        "version": draw(versions),
        "created_at": stamp(-3600),
        "updated_at": stamp(),
    }
    customer = draw(st.sampled_from(refs["customer"]))
    if resource == "customer":
        record |= {"customer_number": draw(st.sampled_from(["20001", "7"])), "name": draw(names)}
    elif resource == "job":
        record |= {
            "job_number": draw(st.sampled_from(["J-1", "500"])),
            "title": draw(names),
            "customer_id": customer,
        }
    elif resource == "invoice":
        line = {
            "line_no": 1,
            "description": draw(names),
            "quantity": "2.00",
            "unit_price": "100.00",
            "vat_rate": 25,
            "ledger_account": "3000",
            "net_amount": "200.00",
            "vat_amount": "50.00",
            "gross_amount": "250.00",
        }
        record |= {
            "invoice_number": draw(st.integers(1, 10**6)),
            "job_id": draw(st.sampled_from(refs["job"])),
            "customer_id": customer,
            "invoice_date": draw(days).isoformat(),
            "due_date": draw(days).isoformat(),
            "lines": [line],
            "net_amount": "200.00",
            "vat_amount": "50.00",
            "gross_amount": "250.00",
        }
    else:
        record |= {
            "invoice_id": draw(st.sampled_from(refs["invoice"])),
            "customer_id": customer,
            "amount": draw(st.sampled_from(["250.00", "0.01"])),
            "payment_date": draw(days).isoformat(),
            "method": draw(st.sampled_from(["kid", "manual"])),
        }
    return resource, record


def drifti_webhooks(tenant: str, refs: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    """Drifti's webhook body for ``tenant`` (services/drifti/API.md §6), valid as drawn."""

    def event(drawn: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        resource, record = drawn
        return webhook_event(tenant, resource, record, "created" if record["version"] == 1 else "updated")

    return st.builds(event, drifti_records(refs))


@st.composite
def export_periods(draw: st.DrawFn) -> dict[str, Any]:
    """The hours export's body: a period of at most a few days (each valid one runs an export)."""
    start = draw(days)
    body: dict[str, Any] = {
        "from": start.isoformat(),
        "to": (start + timedelta(days=draw(st.integers(0, 3)))).isoformat(),
    }
    if draw(st.booleans()):
        body["dry_run"] = draw(st.booleans())
    return body


# --------------------------------------------------------------------------- Tripletex webhooks
@st.composite
def tripletex_webhooks(draw: st.DrawFn) -> dict[str, Any]:
    """Tripletex's ``{subscriptionId, event, id, value}`` with a complete ``value`` (no fetch needed)."""
    subject = draw(st.sampled_from(["project", "customer", "employee", "voucher", "invoice"]))
    verb = draw(st.sampled_from(["create", "update", "delete"]))
    record_id = draw(st.integers(1, 10**9))
    value: dict[str, Any] | None
    if subject == "project":
        value = {
            "id": record_id,
            "version": draw(st.integers(0, 1000)),
            "name": draw(names),
            "number": draw(st.sampled_from(["2024.17", "P-1", "77"])),
            "startDate": draw(days).isoformat(),
            "endDate": None,
            "isClosed": draw(st.booleans()),
            "isInternal": draw(st.booleans()),
            "mainProject": None,
            "customer": draw(st.none() | st.builds(lambda i: {"id": i}, st.integers(1, 10**6))),
            "participants": [
                {"id": p, "employee": {"id": e}}
                for p, e in draw(
                    st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)), max_size=3)
                )
            ],
        }
    elif subject == "customer":
        value = {
            "id": record_id,
            "version": draw(st.integers(0, 1000)),
            "name": draw(names),
            "customerNumber": draw(st.integers(1, 10**6)),
            "organizationNumber": "",
            "email": "post@example.no",
            "phoneNumber": "",
            "isInactive": draw(st.booleans()),
            "invoiceSendMethod": "EMAIL",
            "postalAddress": {
                "addressLine1": "Storgata 4",
                "addressLine2": "",
                "postalCode": "0155",
                "city": "Oslo",
            },
        }
    elif subject == "employee":
        value = {
            "id": record_id,
            "version": draw(st.integers(0, 1000)),
            "firstName": draw(names),
            "lastName": draw(names),
            "employeeNumber": "12",
            "email": "kari@example.no",
        }
    else:
        value = {"id": record_id}
    return {
        "subscriptionId": draw(st.integers(1, 100)),
        "event": f"{subject}.{verb}",
        "id": record_id,
        "value": None if verb == "delete" else value,
    }


# --------------------------------------------------------------------------- wire messages
ENTITY_TYPES = ["project", "customer", "employee", "invoice", "payment"]


def envelope(
    draw: st.DrawFn, tenants: st.SearchStrategy[str], message_type: str, id_field: str
) -> dict[str, Any]:
    """The fields every wire message has (contracts/envelope.py), its own id under ``id_field``."""
    return {
        "schema_version": 1,
        "message_type": message_type,
        "tenant_id": draw(tenants),
        "correlation_id": str(uuid.uuid4()),
        id_field: str(uuid.uuid4()),
    }


def project_snapshot(name: str) -> dict[str, Any]:
    return {
        "kind": "project",
        "number": "2024.17",
        "name": name,
        "start_date": "2026-01-05",
        "member_ids": [],
    }


def customer_snapshot(name: str) -> dict[str, Any]:
    return {"kind": "customer", "customer_number": "10042", "name": name}


def employee_snapshot(name: str) -> dict[str, Any]:
    return {"kind": "employee", "first_name": name, "last_name": "Nordmann", "email": "kari@example.no"}


snapshots: st.SearchStrategy[dict[str, Any]] = st.one_of(
    names.map(project_snapshot), names.map(customer_snapshot), names.map(employee_snapshot)
)


def change_events(tenants: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A ``ChangeEvent`` as JSON (contracts/envelope.py), valid as drawn."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        snapshot = draw(st.none() | snapshots)
        entity_type = snapshot["kind"] if snapshot else draw(st.sampled_from(ENTITY_TYPES[:3]))
        return {
            **envelope(draw, tenants, "change_event", "event_id"),
            "source": draw(st.sampled_from(["svenn", "tripletex", "drifti"])),
            "entity_type": entity_type,
            "entity_id": draw(ids),
            "change_kind": "deleted" if snapshot is None else draw(st.sampled_from(["created", "updated"])),
            "occurred_at": stamp(),
            "source_version": str(draw(versions)),
            "snapshot": snapshot,
        }

    return build()


def commands(tenants: st.SearchStrategy[str], target: str) -> st.SearchStrategy[dict[str, Any]]:
    """A ``Command`` for the ``target`` side's writer, valid as drawn."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        snapshot = draw(snapshots)
        operation = draw(st.sampled_from(["create", "update", "delete", "complete", "assign_number"]))
        return {
            **envelope(draw, tenants, "command", "command_id"),
            "source": "svenn" if target == "tripletex" else "tripletex",
            "target": target,
            "operation": operation,
            "entity_type": snapshot["kind"],
            "source_entity_id": draw(ids),
            "payload": snapshot,
            "changed_fields": draw(st.none() | st.just(["name"])),
            "expected_link": {
                "state": draw(st.sampled_from(["absent", "linked", "broken"])),
                "target_entity_id": None,
            },
            "rule_id": "S-P4",
            "issued_at": stamp(),
        }

    return build()


def outcomes(tenants: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """An ``Outcome`` as a writer publishes it, valid as drawn."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        snapshot = draw(snapshots)
        status = draw(st.sampled_from(["applied", "skipped", "failed"]))
        return {
            **envelope(draw, tenants, "outcome", "outcome_id"),
            "command_id": str(uuid.uuid4()),
            "source": "svenn",
            "target": "tripletex",
            "operation": draw(st.sampled_from(["create", "update"])),
            "entity_type": snapshot["kind"],
            "source_entity_id": draw(ids),
            "target_entity_id": str(draw(st.integers(1, 10**6))),
            "status": status,
            "rule_id": "S-P4",
            "written": snapshot if status == "applied" else None,
            "target_version": str(draw(versions)),
            "reason": None,
            "error_code": "TRIPLETEX_WRITE_FAILED" if status == "failed" else None,
            "error_message": "refused" if status == "failed" else None,
            "occurred_at": stamp(),
        }

    return build()


def decisions(tenants: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A ``DecisionRecord``, valid as drawn."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        verdict = draw(st.sampled_from(["command", "skip", "reject"]))
        return {
            **envelope(draw, tenants, "decision", "decision_id"),
            "cause_event_id": str(uuid.uuid4()),
            "source": draw(st.sampled_from(["svenn", "tripletex", "drifti"])),
            "entity_type": draw(st.sampled_from(ENTITY_TYPES)),
            "entity_id": draw(ids),
            "rule_id": draw(st.sampled_from(["S-P1", "S-C5", "D-I1"])),
            "verdict": verdict,
            "reason": draw(names),
            "error_code": "PROJECT_MISSING_START_DATE" if verdict == "reject" else None,
            "link_effect": draw(st.sampled_from(["none", "break", "restore"])),
            "command_ids": [],
            "decided_at": stamp(),
        }

    return build()


def hostile(templates: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """Bytes of a template mutated, or of something else entirely (about one case in six)."""
    return st.one_of(
        st.builds(encode, mutated(templates), st.booleans()),
        st.builds(encode, mutated(templates), st.booleans()),
        st.builds(encode, mutated(templates), st.booleans()),
        st.builds(encode, mutated(templates), st.booleans()),
        st.builds(encode, mutated(templates), st.booleans()),
        raw_bodies,
    )


def side_statuses(tenants: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A ``SideStatus`` (a side stopped answering a writer, or answers again), valid as drawn."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        side = draw(st.sampled_from(["tripletex", "svenn"]))
        return {
            **envelope(draw, tenants, "side_status", "status_id"),
            "target": side,
            "side": side,
            "reachable": draw(st.booleans()),
            "since": stamp(-600),
            "detail": draw(names),
            "occurred_at": stamp(),
        }

    return build()
