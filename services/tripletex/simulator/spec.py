"""What the vendored OpenAPI subset says about each entity's fields.

The simulator validates request bodies, renders responses and checks `fields` filters
against the same document the contract tests use, so the three can never disagree about
which fields exist, which are read-only and which point at other objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

SUBSET_PATH = Path(__file__).resolve().parents[1] / "openapi" / "tripletex-openapi-subset.json"

FieldKind = Literal["scalar", "ref", "ref_list", "scalar_list", "map"]
_REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class FieldSpec:
    """One property of a component schema, reduced to what the simulator acts on."""

    name: str
    kind: FieldKind
    json_type: str | None = None
    format: str | None = None
    ref: str | None = None
    enum: tuple[str, ...] | None = None
    read_only: bool = False


def _field(name: str, prop: dict[str, Any]) -> FieldSpec:
    read_only = bool(prop.get("readOnly", False))
    if "$ref" in prop:
        return FieldSpec(name, "ref", ref=prop["$ref"].removeprefix(_REF_PREFIX), read_only=read_only)
    json_type = prop.get("type")
    if json_type == "array":
        items = prop.get("items", {})
        if "$ref" in items:
            return FieldSpec(
                name, "ref_list", ref=items["$ref"].removeprefix(_REF_PREFIX), read_only=read_only
            )
        return FieldSpec(name, "scalar_list", json_type=items.get("type"), read_only=read_only)
    if json_type == "object":
        return FieldSpec(name, "map", json_type="object", read_only=read_only)
    enum = tuple(prop["enum"]) if "enum" in prop else None
    return FieldSpec(
        name, "scalar", json_type=json_type, format=prop.get("format"), enum=enum, read_only=read_only
    )


class SchemaCatalog:
    """Field specs per component schema of the vendored subset."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._schemas: dict[str, dict[str, FieldSpec]] = {}
        for name, schema in document["components"]["schemas"].items():
            props = schema.get("properties", {})
            self._schemas[name] = {key: _field(key, prop) for key, prop in props.items()}

    def has(self, schema: str) -> bool:
        return schema in self._schemas

    def fields(self, schema: str) -> dict[str, FieldSpec]:
        """Properties of `schema` in document order (empty for unknown schemas)."""
        return self._schemas.get(schema, {})


def load_document(path: Path = SUBSET_PATH) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@lru_cache(maxsize=1)
def catalog() -> SchemaCatalog:
    """The process-wide catalog; the subset file is read once."""
    return SchemaCatalog(load_document())
