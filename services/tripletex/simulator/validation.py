"""Checking request bodies the way Tripletex's JSON mapping does, before business rules.

Mapping problems (unknown field, wrong JSON type, bad enum value) are reported together as
one 422; REFERENCE §4 gives "Feltet eksisterer ikke i objektet." for unknown fields and
code 16000 for mapping errors. Read-only fields are dropped silently (Tripletex ignores
them, which is why the old timesheet examples that send `chargeableHours` still work).
Required-field and cross-object rules live in `rules.py`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.tripletex.simulator.errors import (
    ID_ON_CREATE,
    INVALID_ENUM,
    NOT_NULL,
    UNKNOWN_FIELD,
    VERSION_ON_CREATE,
    WRONG_TYPE,
    TripletexError,
    ValidationMessage,
    field_error,
    validation_failed,
)
from services.tripletex.simulator.fields_filter import looks_like_date
from services.tripletex.simulator.spec import FieldSpec, SchemaCatalog


def parse_object(body: Any, schema: str, catalog: SchemaCatalog, *, creating: bool) -> dict[str, Any]:
    """Validate one request object; return it cleaned (read-only fields dropped, types coerced)."""
    if not isinstance(body, dict):
        raise field_error(schema, WRONG_TYPE, code=16000)
    messages: list[ValidationMessage] = []
    cleaned = _clean(body, schema, catalog, messages, field_prefix="", path_prefix="")
    if messages:
        raise validation_failed(messages, code=16000)
    if creating:
        if cleaned.get("id") is not None:
            messages.append(ValidationMessage("id", ID_ON_CREATE))
        if cleaned.get("version") is not None:
            messages.append(ValidationMessage("version", VERSION_ON_CREATE))
        if messages:
            raise validation_failed(messages)
        cleaned.pop("id", None)
        cleaned.pop("version", None)
    return cleaned


def parse_list(body: Any, schema: str, catalog: SchemaCatalog, *, creating: bool) -> list[dict[str, Any]]:
    """Validate a `/list` body; messages carry the element index in `path`."""
    if not isinstance(body, list):
        raise field_error(schema, WRONG_TYPE, code=16000)
    out: list[dict[str, Any]] = []
    for index, item in enumerate(body):
        try:
            out.append(parse_object(item, schema, catalog, creating=creating))
        except TripletexError as exc:
            prefix_paths(exc, f"[{index}]")
            raise
    return out


def prefix_paths(exc: TripletexError, prefix: str) -> None:
    """Point a batch element's messages at its index, e.g. `[1].date`."""
    messages = exc.validation_messages
    if messages:
        exc.validation_messages = [
            ValidationMessage(m.field, m.message, f"{prefix}.{m.path or m.field}", m.root_id)
            for m in messages
        ]


def _clean(
    body: dict[str, Any],
    schema: str,
    catalog: SchemaCatalog,
    messages: list[ValidationMessage],
    *,
    field_prefix: str,
    path_prefix: str,
) -> dict[str, Any]:
    specs = catalog.fields(schema)
    cleaned: dict[str, Any] = {}
    for name, value in body.items():
        field = f"{field_prefix}{name}"
        path = f"{path_prefix}{name}"
        spec = specs.get(name)
        if spec is None:
            messages.append(ValidationMessage(field, UNKNOWN_FIELD, path))
            continue
        if spec.read_only or name in ("url", "changes"):
            continue
        if value is None:
            cleaned[name] = None
            continue
        converted = _convert(spec, value, catalog, messages, field=field, path=path)
        if converted is not _INVALID:
            cleaned[name] = converted
    return cleaned


_INVALID = object()


def _convert(
    spec: FieldSpec,
    value: Any,
    catalog: SchemaCatalog,
    messages: list[ValidationMessage],
    *,
    field: str,
    path: str,
) -> Any:
    if spec.kind == "ref":
        return _convert_ref(spec.ref or "", value, catalog, messages, field=field, path=path)
    if spec.kind == "ref_list":
        if not isinstance(value, list):
            messages.append(ValidationMessage(field, WRONG_TYPE, path))
            return _INVALID
        return [
            _convert_ref(spec.ref or "", item, catalog, messages, field=field, path=f"{path}[{i}]")
            for i, item in enumerate(value)
        ]
    if spec.kind == "scalar_list":
        if not isinstance(value, list):
            messages.append(ValidationMessage(field, WRONG_TYPE, path))
            return _INVALID
        return value
    if spec.kind == "map":
        return value
    result = _coerce_scalar(spec.json_type, value)
    if result is _INVALID:
        messages.append(ValidationMessage(field, WRONG_TYPE, path))
        return _INVALID
    if spec.json_type == "string" and spec.enum is None and looks_like_date(spec.name):
        # Dates are `YYYY-MM-DD` [docs]; like Jackson, an empty string reads as null.
        if result == "":
            return None
        try:
            date.fromisoformat(result)
        except ValueError:
            messages.append(ValidationMessage(field, WRONG_TYPE, path))
            return _INVALID
        if len(result) != 10:
            messages.append(ValidationMessage(field, WRONG_TYPE, path))
            return _INVALID
    if spec.enum is not None and result not in spec.enum:
        messages.append(ValidationMessage(field, INVALID_ENUM, path))
        return _INVALID
    return result


def _convert_ref(
    schema: str,
    value: Any,
    catalog: SchemaCatalog,
    messages: list[ValidationMessage],
    *,
    field: str,
    path: str,
) -> Any:
    """A sub-object is either a reference `{id}` (other fields ignored) or an inline object."""
    if value is None:
        return None
    if not isinstance(value, dict):
        messages.append(ValidationMessage(field, WRONG_TYPE, path))
        return _INVALID
    ref_id = value.get("id")
    if ref_id is not None:
        coerced = _coerce_scalar("integer", ref_id)
        if coerced is _INVALID:
            messages.append(ValidationMessage(f"{field}.id", WRONG_TYPE, f"{path}.id"))
            return _INVALID
        return {"id": coerced}
    return _clean(value, schema, catalog, messages, field_prefix=f"{field}.", path_prefix=f"{path}.")


def _coerce_scalar(json_type: str | None, value: Any) -> Any:
    """Jackson-like leniency: numbers from numeric strings, strings from numbers."""
    if json_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _INVALID
    if json_type == "integer":
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return _INVALID
    if json_type == "number":
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return _INVALID
        return _INVALID
    if json_type == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return _INVALID
    return value


def require(obj: dict[str, Any], fields: list[str], message: str = NOT_NULL) -> list[ValidationMessage]:
    """Messages for required fields that are absent, null or blank."""
    missing = []
    for name in fields:
        value = obj.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(ValidationMessage(name, message))
    return missing
