"""The production client against the simulator: typed results, retries, locking, secrecy."""

from __future__ import annotations

import logging
from datetime import date

import httpx
import pytest

from services.svenn.client import (
    Customer,
    CustomerCreate,
    Project,
    ProjectCreate,
    RetryPolicy,
    SvennAuthError,
    SvennClient,
    SvennConflictError,
    SvennNotFound,
    SvennRateLimitedError,
    SvennServerError,
    SvennTransportError,
    SvennValidationError,
    SvennVersionConflictError,
)
from services.svenn.simulator.testing import BASE_URL, Sim


async def test_iterator_walks_every_page(sim: Sim, client: SvennClient) -> None:
    for i in range(95):
        await client.employees.create({"first_name": f"Ansatt{i}", "employee_number": str(i)})
    seen = [e.employee_number async for e in client.employees.iterate(page_size=20)]
    assert seen == [str(i) for i in range(95)]
    page = await client.employees.page(limit=20)
    assert len(page.data) == 20 and page.has_more and page.next_cursor


async def test_typed_crud_and_lookups_by_number(client: SvennClient) -> None:
    kari = await client.employees.create(
        {"first_name": "Kari", "last_name": "Nordmann", "email": "Kari@Ex.no"}
    )
    acme = await client.customers.create(CustomerCreate(name="Acme", customer_number="10001"))
    project = await client.projects.create(
        ProjectCreate(
            display_id="2024.17",
            name="Tak",
            start_date=date(2024, 3, 1),
            customer_id=acme.id,
            member_ids=[kari.id],
        )
    )
    assert isinstance(project, Project) and project.start_date == date(2024, 3, 1)
    assert project.member_ids == (kari.id,)
    sub = await client.projects.create({"name": "Del", "parent_id": project.id})
    assert sub.is_subproject and sub.display_id == "2024.17"

    assert isinstance(await client.customers.find_by_number("10001"), Customer)
    assert await client.customers.find_by_number("404") is None
    assert (await client.employees.find_by_email("kari@ex.no")) == kari
    assert len(await client.projects.find_by_display_id("2024.17")) == 2
    top = await client.projects.find_top_level_by_display_id("2024.17")
    assert top is not None and top.id == project.id

    deleted = await client.projects.delete(sub.id)
    assert deleted.status == "deleted"
    assert [p.id for p in await client.projects.find_by_display_id("2024.17")] == [project.id]
    changed = [p.id async for p in client.projects.changed_since(project.updated_at)]
    assert set(changed) == {project.id, sub.id}
    with pytest.raises(SvennNotFound):
        await client.projects.get("prj_missing")


async def test_validation_error_carries_field_messages(client: SvennClient) -> None:
    with pytest.raises(SvennValidationError) as info:
        await client.projects.create(
            {
                "name": "Feil",
                "start_date": date(2024, 5, 1),
                "end_date": date(2024, 1, 1),
                "member_ids": ["emp_x"],
            }
        )
    fields = {d.field for d in info.value.details}
    assert fields == {"end_date", "member_ids.0"}
    assert "end_date" in str(info.value) and info.value.request_id


async def test_duplicate_number_is_a_conflict_naming_the_existing_record(client: SvennClient) -> None:
    first = await client.customers.create({"name": "A", "customer_number": "77"})
    with pytest.raises(SvennConflictError) as info:
        await client.customers.create({"name": "B", "customer_number": "77"})
    assert info.value.code == "DUPLICATE_CUSTOMER_NUMBER"
    assert info.value.conflicting_id == first.id
    assert not isinstance(info.value, SvennVersionConflictError)


async def test_update_on_stale_version_rereads_and_reapplies(sim: Sim, tenant: tuple[str, str]) -> None:
    async with sim.client(tenant[1]) as engine, sim.client(tenant[1]) as someone_else:
        a = await engine.employees.create({"first_name": "A"})
        b = await engine.employees.create({"first_name": "B"})
        stale = await engine.projects.create({"name": "Felles", "member_ids": [a.id]})
        # Someone renames the project after the engine read it.
        await someone_else.projects.update(stale.id, {"name": "Felles (omdøpt)"})

        calls: list[int] = []

        def add_b(current: Project) -> dict[str, list[str]] | None:
            calls.append(current.version)
            if b.id in current.member_ids:
                return None
            return {"member_ids": [*current.member_ids, b.id]}

        result = await engine.projects.update(stale, add_b)
        assert calls == [1, 2]  # computed on the stale copy, conflicted, recomputed on fresh
        assert result.name == "Felles (omdøpt)"  # the other writer's change survived
        assert result.member_ids == (a.id, b.id)
        assert result.version == 3
        # Nothing left to do: no write at all.
        assert (await engine.projects.update(result.id, add_b)).version == 3

        with pytest.raises(SvennVersionConflictError) as info:
            await engine.projects.patch(stale.id, {"name": "Blind"}, if_match=1)
        assert info.value.current_version == 3


async def test_update_gives_up_after_bounded_conflicts(sim: Sim, tenant: tuple[str, str]) -> None:
    async with sim.client(tenant[1], conflict_retries=2) as engine, sim.client(tenant[1]) as rival:
        project = await engine.projects.create({"name": "Krangel"})
        # A rival that edits right after every read wins every race and exhausts the budget.
        seen: list[int] = []
        original_get = engine.projects.get

        async def racing_get(resource_id: str) -> Project:
            fresh = await original_get(resource_id)
            await rival.projects.update(resource_id, {"name": f"Rival v{fresh.version}"})
            return fresh

        engine.projects.get = racing_get  # type: ignore[method-assign]

        def rename(current: Project) -> dict[str, str]:
            seen.append(current.version)
            return {"name": "Motor"}

        with pytest.raises(SvennVersionConflictError):
            await engine.projects.update(project.id, rename)
        assert len(seen) == 3  # first try + conflict_retries


async def test_429_retry_after_is_honoured_and_absorbed(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, rate_limit={"limit": 2, "period_seconds": 1})
    # Real sleeping here: the budget must actually refill before the retry succeeds.
    async with sim.client(key, sleep=_real_sleep) as client:
        for _ in range(3):
            assert (await client.projects.page()).data == []
        assert client.rate_limit_remaining is not None


async def _real_sleep(delay: float) -> None:
    import asyncio

    assert 1.0 <= delay <= 1.2, delay  # Retry-After: 1 plus a little jitter
    await asyncio.sleep(delay)


async def test_429_with_too_long_retry_after_fails_fast(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, rate_limit={"limit": 1, "period_seconds": 600})
    async with sim.client(key, retry=RetryPolicy(max_retry_after=30)) as client:
        await client.projects.page()
        with pytest.raises(SvennRateLimitedError) as info:
            await client.projects.page()
    assert info.value.retry_after is not None and info.value.retry_after > 30
    assert sim.sleeps.delays == []


async def test_5xx_is_retried_with_jittered_backoff(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, fail_next=3, error_status=503)
    policy = RetryPolicy(max_attempts=4, backoff_base=0.1, backoff_max=1.0)
    async with sim.client(key, retry=policy) as client:
        created = await client.customers.create({"name": "Etter feil"})
    assert created.name == "Etter feil"
    assert len(sim.sleeps.delays) == 3
    for attempt, delay in enumerate(sim.sleeps.delays, start=1):
        assert 0 <= delay <= 0.1 * 2 ** (attempt - 1)

    await sim.faults(name, fail_next=10, error_status=500)
    async with sim.client(key, retry=policy) as client:
        with pytest.raises(SvennServerError) as info:
            await client.customers.list_all()
    assert info.value.status == 500


async def test_create_retried_after_a_lost_response_creates_once(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    # The server commits the create, then answers 502: only the Idempotency-Key prevents a twin.
    await sim.faults(name, fail_next=1, error_after_commit=True, error_status=502)
    async with sim.client(key) as client:
        created = await client.customers.create({"name": "Bare én"}, idempotency_key="command-42")
        await sim.faults(name)
        assert [c.id for c in await client.customers.list_all()] == [created.id]


class _FlakyTransport(httpx.AsyncBaseTransport):
    """Drops the first N requests on the floor like a dead network would."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures > 0:
            self.failures -= 1
            raise httpx.ReadTimeout("simulated timeout", request=request)
        return await self.inner.handle_async_request(request)


async def test_timeouts_are_retried_then_reported(sim: Sim, tenant: tuple[str, str]) -> None:
    transport = _FlakyTransport(httpx.ASGITransport(app=sim.app), failures=2)
    policy = RetryPolicy(max_attempts=3, backoff_base=0.01)
    async with SvennClient(
        BASE_URL, tenant[1], transport=transport, retry=policy, sleep=sim.sleeps
    ) as client:
        assert (await client.employees.page()).data == []
        transport.failures = 5
        with pytest.raises(SvennTransportError):
            await client.employees.page()


async def test_api_key_never_appears_in_repr_errors_or_logs(
    sim: Sim, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, key = tenant
    caplog.set_level(logging.DEBUG)
    await sim.faults(name, fail_next=1)
    async with sim.client(key) as client:
        assert key not in repr(client)
        assert key not in repr(client._http.auth)
        await client.projects.page()  # one logged retry
        with pytest.raises(SvennValidationError) as validation:
            await client.projects.create({"name": "x", "member_ids": ["nobody"]})
    async with sim.client(key + "-wrong") as bad:
        with pytest.raises(SvennAuthError) as auth:
            await bad.projects.page()
    texts = [repr(client), str(validation.value), repr(validation.value), str(auth.value), repr(auth.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("retry" in t for t in texts)
    assert not any(key in t for t in texts)
