"""API.md's client example runs as written, so the document cannot drift from the code."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import services.drifti.client as drifti_client
from services.drifti.client import DriftiClient
from services.drifti.simulator.testing import Sim

API_MD = Path(__file__).resolve().parents[2] / "services" / "drifti" / "API.md"


async def test_client_example_in_api_md_runs(client: DriftiClient) -> None:
    blocks = re.findall(r"```python\n(.*?)```", API_MD.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "API.md lost its Python example"
    namespace: dict[str, Any] = {**vars(drifti_client), "date": date, "Decimal": Decimal}
    exec(blocks[0], namespace)
    await namespace["example"](client)


async def test_every_documented_route_exists(sim: Sim) -> None:
    """The resource paths named in API.md §4 are the ones the simulator serves."""
    text = API_MD.read_text(encoding="utf-8")
    documented = set(re.findall(r"— `(/api/v1/[a-z-]+)`", text))
    served = set(sim.app.openapi()["paths"])
    assert len(documented) == 8 and documented <= served
