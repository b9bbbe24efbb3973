"""Cut the part of Tripletex's OpenAPI document that this project uses.

The full document is 3.6 MB and 546 paths; a user's clone carries only the subset, so the
simulator and its contract tests depend on nothing outside the repository. Run it again
when the simulator grows a path:

    python services/tripletex/openapi/extract_subset.py /path/to/openapi.json

It keeps the listed paths (all their methods) and every component schema they reference,
transitively, and copies everything else that matters for reading the file (`openapi`,
`info`, `servers`, security schemes) unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

USED_PATHS: tuple[str, ...] = (
    "/token/session/:create",
    "/token/session/>whoAmI",
    "/token/session/{token}",
    "/project",
    "/project/{id}",
    "/project/list",
    "/project/number/{number}",
    "/project/participant",
    "/project/participant/{id}",
    "/project/participant/list",
    "/project/projectActivity",
    "/project/projectActivity/{id}",
    "/project/projectActivity/list",
    "/project/hourlyRates",
    "/project/hourlyRates/{id}",
    "/customer",
    "/customer/{id}",
    "/customer/list",
    "/employee",
    "/employee/{id}",
    "/employee/list",
    "/activity",
    "/activity/{id}",
    "/activity/list",
    "/activity/>forTimeSheet",
    "/timesheet/entry",
    "/timesheet/entry/{id}",
    "/timesheet/entry/list",
    "/ledger/account",
    "/ledger/account/{id}",
    "/ledger/vatType",
    "/ledger/vatType/{id}",
    "/ledger/voucherType",
    "/ledger/voucher",
    "/ledger/voucher/{id}",
    "/ledger/voucher/>externalVoucherNumber",
    "/ledger/voucher/{voucherId}/attachment",
    "/ledger/posting",
    "/ledger/posting/{id}",
    "/ledger/posting/:closePostings",
    "/document/{id}",
    "/document/{id}/content",
    "/invoice",
    "/invoice/{id}",
    "/invoice/{id}/:payment",
    "/invoice/paymentType",
    "/event",
    "/event/subscription",
    "/event/subscription/{id}",
)

# Referenced by error responses and the envelope of every 4xx/5xx, but not by any path.
EXTRA_SCHEMAS: tuple[str, ...] = ("ApiError", "ApiValidationMessage")

_REF_PREFIX = "#/components/schemas/"


def _refs(node: Any) -> set[str]:
    """Names of the component schemas a JSON fragment points at."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref.removeprefix(_REF_PREFIX))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def extract(document: dict[str, Any], paths: tuple[str, ...] = USED_PATHS) -> dict[str, Any]:
    """Return a new OpenAPI document with only `paths` and the schemas they need."""
    missing = [path for path in paths if path not in document["paths"]]
    if missing:
        raise SystemExit(f"paths not in the source document: {missing}")
    kept_paths = {path: document["paths"][path] for path in paths}
    all_schemas: dict[str, Any] = document["components"]["schemas"]
    pending = _refs(kept_paths) | set(EXTRA_SCHEMAS)
    kept: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept[name] = all_schemas[name]
        pending |= _refs(kept[name]) - kept.keys()
    components: dict[str, Any] = {"schemas": dict(sorted(kept.items()))}
    if "securitySchemes" in document["components"]:
        components["securitySchemes"] = document["components"]["securitySchemes"]
    subset: dict[str, Any] = {
        key: document[key] for key in ("openapi", "info", "servers", "security", "tags") if key in document
    }
    subset["paths"] = kept_paths
    subset["components"] = components
    return subset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the full Tripletex openapi.json (v2.74.00)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).with_name("tripletex-openapi-subset.json"),
        help="where to write the subset (default: next to this script)",
    )
    args = parser.parse_args(argv)
    document = json.loads(args.source.read_text(encoding="utf-8"))
    subset = extract(document)
    args.output.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {args.output}: {len(subset['paths'])} paths, {len(subset['components']['schemas'])} schemas",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
