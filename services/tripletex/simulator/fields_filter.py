"""The `fields` query parameter: parse it, check it, and shape objects by it.

Tripletex semantics (REFERENCE §2): `fields=*,activity(name),employee(*)`; no `fields`
means `*`; `*` lists every top-level field but does not expand sub-objects, which come
back as `{id, url}`; `changes` only appears when named; an unknown name is a 400
"Illegal field in fields filter: X". `a.b` is accepted as a short form of `a(b)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.tripletex.simulator.errors import bad_request, illegal_fields_filter
from services.tripletex.simulator.spec import FieldSpec, SchemaCatalog

# name -> sub-selection (None = named without parentheses).
FieldTree = dict[str, "FieldTree | None"]

ALL: FieldTree = {"*": None}
_NAMED_ONLY = frozenset({"changes"})


def parse(text: str | None) -> FieldTree:
    """Parse a `fields` expression into a tree; empty or missing means `*`."""
    if text is None or not text.strip():
        return dict(ALL)
    tree, pos = _parse_list(text.replace(" ", ""), 0)
    if pos != len(text.replace(" ", "")):
        raise bad_request(f"Illegal fields filter: {text}", code=11000)
    return tree


def _parse_list(text: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while pos < len(text):
        start = pos
        while pos < len(text) and text[pos] not in ",()":
            pos += 1
        name = text[start:pos]
        sub: FieldTree | None = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse_list(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise bad_request(f"Illegal fields filter: unbalanced parentheses in {text}", code=11000)
            pos += 1
        if name:
            _merge(tree, name, sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    return tree, pos


def _merge(tree: FieldTree, name: str, sub: FieldTree | None) -> None:
    if "." in name:
        head, rest = name.split(".", 1)
        nested: FieldTree = {}
        _merge(nested, rest, sub)
        name, sub = head, nested
    if name in tree and tree[name] is not None and sub is not None:
        existing = tree[name]
        assert existing is not None
        for key, value in sub.items():
            _merge(existing, key, value)
    elif sub is not None or name not in tree:
        tree[name] = sub


def check(catalog: SchemaCatalog, schema: str, tree: FieldTree) -> None:
    """Raise 400 for the first name that `schema` (or a nested schema) does not have."""
    specs = catalog.fields(schema)
    for name, sub in tree.items():
        if name == "*":
            continue
        spec = specs.get(name)
        if spec is None:
            raise illegal_fields_filter(name)
        if sub is not None:
            if spec.ref is None:
                raise illegal_fields_filter(next(iter(sub)) if sub else name)
            check(catalog, spec.ref, sub)


@dataclass
class RenderContext:
    """What rendering needs besides the object: the catalog, a lookup for expansions, URLs."""

    catalog: SchemaCatalog
    resolve: Callable[[str, int], dict[str, Any] | None]
    url: Callable[[str, int], str | None]


def _default(spec: FieldSpec) -> Any:
    """Value of an unset field. Assumption: Tripletex writes false for unset booleans,
    "" for unset text and null for unset dates, numbers and objects."""
    if spec.kind in ("ref_list", "scalar_list"):
        return []
    if spec.kind != "scalar":
        return None
    if spec.json_type == "boolean":
        return False
    if spec.json_type == "string" and spec.enum is None and not looks_like_date(spec.name):
        return ""
    return None


def looks_like_date(name: str) -> bool:
    """Tripletex's date fields are plain strings in the spec; recognise them by name."""
    lowered = name.lower()
    return lowered.endswith("date") or lowered.startswith("date") or lowered in ("timestamp", "changedsince")


def render(schema: str, obj: dict[str, Any], tree: FieldTree, ctx: RenderContext) -> dict[str, Any]:
    """Shape one stored object for the response (tree already checked)."""
    specs = ctx.catalog.fields(schema)
    star = "*" in tree
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if not ((star and name not in _NAMED_ONLY) or name in tree):
            continue
        sub = tree.get(name)
        if name == "url" and obj.get("id") is not None:
            out[name] = ctx.url(schema, obj["id"])
        elif obj.get(name) is None:
            out[name] = _default(spec)
        elif spec.kind == "ref":
            out[name] = _render_ref(spec.ref or "", obj[name], sub, ctx)
        elif spec.kind == "ref_list":
            out[name] = [_render_ref(spec.ref or "", item, sub, ctx) for item in obj[name]]
        else:
            out[name] = obj[name]
    return out


def _render_ref(schema: str, raw: Any, sub: FieldTree | None, ctx: RenderContext) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return raw
    ref_id = raw.get("id")
    if ref_id is not None:
        if sub is None:
            return {"id": ref_id, "url": ctx.url(schema, ref_id)}
        full = ctx.resolve(schema, ref_id) or raw
        return render(schema, full, sub, ctx)
    return render(schema, raw, sub if sub is not None else dict(ALL), ctx)
