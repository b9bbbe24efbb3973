"""``python -m services.drifti.simulator`` creates demo tenants and prints their keys before serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.drifti.simulator import __main__ as entry


async def test_main_creates_demo_tenants_and_prints_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, **kwargs: Any) -> None:
        served.update(app=app, **kwargs)

    monkeypatch.setattr(entry.uvicorn, "run", fake_run)
    entry.main(
        [
            "--port",
            "18098",
            "--demo-tenant",
            "demo",
            "--demo-tenant",
            "other",
            "--api-key",
            "drf_test_k",
            "--demo-month",
            "2026-09",
        ]
    )

    out = capsys.readouterr().out
    assert "tenant=demo api_key=drf_test_k" in out
    assert "tenant=other api_key=drf_test_" in out
    assert served["host"] == "127.0.0.1" and served["port"] == 18098
    transport = httpx.ASGITransport(app=served["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        r = await http.get("/api/v1/invoices?limit=200", headers={"Authorization": "Bearer drf_test_k"})
    assert r.status_code == 200 and len(r.json()["data"]) >= 24
    assert all(i["invoice_date"].startswith("2026-09") for i in r.json()["data"])
