"""``python -m services.svenn.simulator`` seeds tenants and prints their keys before serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.svenn.simulator import __main__ as entry


async def test_main_seeds_tenants_and_prints_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, **kwargs: Any) -> None:
        served.update(app=app, **kwargs)

    monkeypatch.setattr(entry.uvicorn, "run", fake_run)
    entry.main(
        ["--port", "18099", "--seed-tenant", "demo", "--seed-tenant", "other", "--api-key", "svn_test_k"]
    )

    out = capsys.readouterr().out
    assert "tenant=demo api_key=svn_test_k" in out
    assert "tenant=other api_key=svn_test_" in out
    assert served["host"] == "127.0.0.1" and served["port"] == 18099
    transport = httpx.ASGITransport(app=served["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        r = await http.get("/api/v1/projects", headers={"Authorization": "Bearer svn_test_k"})
    assert {p["display_id"] for p in r.json()["data"]} == {"2024.17", "A12.3"}
