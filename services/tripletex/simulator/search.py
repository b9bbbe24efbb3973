"""Search filters, sorting, paging and the list envelope for `GET` list endpoints.

Filter names and their matching mode (Equals, Containing, List of IDs, From-and-including,
To-and-excluding) are the ones in the parameter descriptions of the vendored spec.
Unknown query parameters are ignored, as Tripletex does, so a misspelt filter returns
everything: the client must use the spec's names (e.g. `customerAccountNumber`, not
`customerNumber`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.datastructures import QueryParams

from services.tripletex.simulator.errors import (
    RESULT_SET_TOO_LARGE,
    TripletexError,
    invalid_param,
    missing_param,
)

MAX_RESULT_SET = 10_000
DEFAULT_COUNT = 1000

Row = dict[str, Any]
Predicate = Callable[[Row], bool]


def _path(row: Row, dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise invalid_param(name)
    return lowered == "true"


def parse_ids(name: str, raw: str) -> set[int]:
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as exc:
        raise invalid_param(name) from exc


def parse_date(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise invalid_param(name) from exc


def _as_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class Filter:
    """One query parameter and how it narrows the rows."""

    param: str
    mode: str  # ids | equals | contains | bool | strings | date_from | date_to | custom
    field: str = ""
    custom: Callable[[Row, str], bool] | None = None

    def predicate(self, raw: str) -> Predicate:
        field = self.field or self.param
        if self.mode == "ids":
            wanted = parse_ids(self.param, raw)
            return lambda row: _path(row, field) in wanted
        if self.mode == "equals":
            return lambda row: str(_path(row, field) or "") == raw
        if self.mode == "contains":
            needle = raw.lower()
            return lambda row: needle in str(_path(row, field) or "").lower()
        if self.mode == "bool":
            flag = parse_bool(self.param, raw)
            return lambda row: bool(_path(row, field)) == flag
        if self.mode == "strings":
            values = {part.strip() for part in raw.split(",") if part.strip()}
            return lambda row: str(_path(row, field)) in values
        if self.mode in ("date_from", "date_to"):
            bound = parse_date(self.param, raw)
            if self.mode == "date_from":
                return lambda row: (d := _as_date(_path(row, field))) is not None and d >= bound
            return lambda row: (d := _as_date(_path(row, field))) is not None and d < bound
        if self.mode == "custom" and self.custom is not None:
            custom = self.custom
            return lambda row: custom(row, raw)
        raise AssertionError(self.mode)


@dataclass(frozen=True)
class SearchSpec:
    filters: tuple[Filter, ...] = ()
    required: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()
    """Filters that apply when the parameter is absent, e.g. customer `isInactive=false`."""


def select(rows: Iterable[Row], spec: SearchSpec, params: QueryParams) -> list[Row]:
    """Rows matching every given (or defaulted) filter, in id order."""
    for name in spec.required:
        if not params.get(name):
            raise missing_param(name)
    given = dict(spec.defaults)
    given.update({k: v for k, v in params.items() if v != ""})
    predicates = [f.predicate(given[f.param]) for f in spec.filters if f.param in given]
    return sorted((row for row in rows if all(p(row) for p in predicates)), key=lambda r: r["id"])


def sort_rows(rows: list[Row], sorting: str | None, fields: set[str]) -> list[Row]:
    """Apply `sorting=a,-b,c.d`; an unknown top-level field is 422 code 17000."""
    if not sorting:
        return rows
    keys = [part.strip() for part in sorting.split(",") if part.strip()]
    for key in reversed(keys):
        descending = key.startswith("-")
        name = key.lstrip("-")
        if name.split(".")[0] not in fields:
            raise TripletexError(422, 17000, f"Illegal sorting field: {name}")
        rows = sorted(rows, key=_sorter(name), reverse=descending)
    return rows


def _sorter(name: str) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: _sort_key(_path(row, name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value))


def page(rows: list[Row], params: QueryParams) -> tuple[list[Row], int]:
    """Slice by `from`/`count`; more than 10,000 matches is an error whatever `count` is."""
    if len(rows) > MAX_RESULT_SET:
        raise TripletexError(422, 23000, RESULT_SET_TOO_LARGE)
    start = _int_param(params, "from", 0)
    count = _int_param(params, "count", DEFAULT_COUNT)
    return rows[start : start + count], start


def _int_param(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid_param(name) from exc
    if value < 0:
        raise invalid_param(name)
    return value


def version_digest(rows: list[Row]) -> str:
    """Checksum over ids and versions of the whole result (REFERENCE §2 'checksum')."""
    text = ";".join(f"{r['id']}:{r.get('version', 0)}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()
