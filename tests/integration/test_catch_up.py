"""Catch-up behind the webhooks: records changed without a webhook still reach the change topics."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from contracts.envelope import ChangeEvent, EntityType
from contracts.topics import SVENN_CHANGES, TRIPLETEX_CHANGES
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, SvennAccess, TenantConfig, TripletexAccess
from services.runtime import Role, Runtime
from services.svenn.simulator.app import create_app as svenn_app
from services.tripletex.simulator.app import create_app as tripletex_app
from services.tripletex.simulator.state import SimulatorState
from services.tripletex.simulator.testing import serve_asgi
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration


async def test_svenn_polling_and_the_tripletex_full_pass_publish_what_no_webhook_brought(
    settings: Settings, tenant_id: str
) -> None:
    tripletex_state = SimulatorState()
    company = tripletex_state.create_company("Catch-up AS")
    async with serve_asgi(svenn_app()) as svenn_url, serve_asgi(tripletex_app(tripletex_state)) as tx_url:
        async with httpx.AsyncClient(base_url=svenn_url) as svenn:
            created = (await svenn.post("/_sim/tenants", json={"name": tenant_id})).json()
            headers = {"Authorization": f"Bearer {created['api_key']}"}
            project = await svenn.post(
                "/api/v1/projects",
                headers=headers,
                json={"display_id": "2026.1", "name": "Polled", "start_date": "2026-01-05"},
            )
            assert project.status_code == 201, project.text
        async with httpx.AsyncClient(base_url=tx_url) as tripletex:
            session = await tripletex.post(
                "/v2/token/session/:create",
                json={
                    "consumerToken": company.consumer_token,
                    "employeeToken": company.employee_token,
                    "expirationDate": "2099-01-01",
                },
            )
            auth = httpx.BasicAuth("0", session.json()["value"]["token"])
            customer = await tripletex.post(
                "/v2/customer", auth=auth, json={"name": "Passed AS", "customerNumber": 4242}
            )
            assert customer.status_code == 201, customer.text

        tenants = StaticTenantDirectory(
            [
                TenantConfig(
                    tenant_id=tenant_id,
                    svenn=SvennAccess(base_url=svenn_url, api_key=SecretStr(created["api_key"])),
                    tripletex=TripletexAccess(
                        base_url=f"{tx_url}/v2",
                        consumer_token=SecretStr(company.consumer_token),
                        employee_token=SecretStr(company.employee_token),
                    ),
                )
            ]
        )
        fast = settings.model_copy(
            update={"svenn_poll_interval_s": 0.2, "tripletex_reconcile_interval_s": 0.5}
        )
        runtime = Runtime(fast, [Role.INGEST], tenants=tenants)
        await runtime.start()
        try:
            prefix = f"{tenant_id}|".encode()
            (svenn_record,) = await read_topic(settings, SVENN_CHANGES, lambda r: r.key.startswith(prefix), 1)
            (tx_record, *_) = await read_topic(
                settings, TRIPLETEX_CHANGES, lambda r: r.key.startswith(prefix), 1
            )
            # With a tenants file too, the poll's watermarks outlive the process (PostgreSQL).
            pool = await runtime.database_pool()
            for _ in range(100):
                marks = await pool.fetch(
                    "SELECT side, resource FROM catch_up_watermark WHERE tenant_id = $1", tenant_id
                )
                if len(marks) == 3:
                    break
                await asyncio.sleep(0.05)
            assert sorted((m["side"], m["resource"]) for m in marks) == [
                ("svenn", "customer"),
                ("svenn", "employee"),
                ("svenn", "project"),
            ]
        finally:
            await runtime.stop()
    polled = ChangeEvent.model_validate_json(svenn_record.value or b"")
    assert (polled.entity_type, polled.entity_id) == (EntityType.PROJECT, project.json()["id"])
    passed = ChangeEvent.model_validate_json(tx_record.value or b"")
    assert (passed.entity_type, passed.entity_id) == (
        EntityType.CUSTOMER,
        str(customer.json()["value"]["id"]),
    )
    assert passed.snapshot is not None and passed.snapshot.customer_number == "4242"  # type: ignore[union-attr]
