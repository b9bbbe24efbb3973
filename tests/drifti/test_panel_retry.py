"""The panel's retry reads a Drifti record afresh and publishes it as the Drifti ingest would.

A Drifti invoice waiting in the error log (an unmapped account, D-L1) is retried from the panel
once the user has done something about it; the retry must carry what the ingest would carry for
the record now (same version, same snapshot), under a new event id so it is decided again.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from contracts.envelope import EntityType, SourceSystem
from services.core.tenants import DriftiAccess, StaticTenantDirectory, TenantConfig
from services.drifti.ingest import DriftiReader, event_of
from services.drifti.simulator.testing import Sim, serve_asgi
from services.panel.retry import CannotRetry, fetch_event


async def test_D_L1_retry_of_a_drifti_invoice_reads_it_as_the_ingest_does(sim: Sim) -> None:
    _, api_key = await sim.tenant(demo={"seed": 1, "month": "2026-10"})
    async with serve_asgi(sim.app) as url, sim.client(api_key) as client:
        tenants = StaticTenantDirectory(
            [TenantConfig(tenant_id="t1", drifti=DriftiAccess(base_url=url, api_key=SecretStr(api_key)))]
        )
        invoice = (await client.invoices.list_all())[0]
        expected = await event_of(DriftiReader(client), "t1", invoice)

        event = await fetch_event(tenants, None, "t1", SourceSystem.DRIFTI, EntityType.INVOICE, invoice.id)  # type: ignore[arg-type]

        assert event.entity_type is EntityType.INVOICE and event.entity_id == invoice.id
        assert event.source_version == expected.source_version
        assert event.snapshot == expected.snapshot
        payment = (await client.payments.list_all())[0]
        paid = await fetch_event(tenants, None, "t1", SourceSystem.DRIFTI, EntityType.PAYMENT, payment.id)  # type: ignore[arg-type]
        assert paid.snapshot == (await event_of(DriftiReader(client), "t1", payment)).snapshot
        with pytest.raises(CannotRetry, match="no longer has invoice"):
            await fetch_event(tenants, None, "t1", SourceSystem.DRIFTI, EntityType.INVOICE, "inv_missing")  # type: ignore[arg-type]
        with pytest.raises(CannotRetry, match="employee records cannot be retried"):
            await fetch_event(tenants, None, "t1", SourceSystem.DRIFTI, EntityType.EMPLOYEE, "usr_1")  # type: ignore[arg-type]
