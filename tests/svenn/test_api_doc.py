"""API.md's client example runs as written, so the document cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import services.svenn.client as svenn_client
from services.svenn.client import SvennClient

API_MD = Path(__file__).resolve().parents[2] / "services" / "svenn" / "API.md"


async def test_client_example_in_api_md_runs(client: SvennClient) -> None:
    blocks = re.findall(r"```python\n(.*?)```", API_MD.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "API.md lost its Python example"
    namespace: dict[str, Any] = dict(vars(svenn_client))
    exec(blocks[0], namespace)
    await namespace["example"](client)
