"""Run the simulator: ``python -m services.svenn.simulator --port 8082 --seed-tenant demo``.

Seeded tenants' API keys are printed on stdout so a developer can paste them into curl or
an engine config; ``--api-key`` pins the key so scripts need not parse that output.
"""

from __future__ import annotations

import argparse

import uvicorn

from services.svenn.simulator.app import create_app
from services.svenn.simulator.seed import seed_tenant
from services.svenn.simulator.state import SimState
from services.svenn.simulator.webhooks import WebhookSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="svenn-sim", description="Svenn API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--seed-tenant",
        action="append",
        default=[],
        metavar="NAME",
        help="create this tenant with demo data (repeatable)",
    )
    parser.add_argument("--api-key", default=None, help="API key for the (first) seeded tenant")
    parser.add_argument(
        "--webhook-retry-delays",
        default="1,5,30,120,600",
        help="comma-separated seconds between delivery attempts",
    )
    args = parser.parse_args(argv)

    delays = tuple(float(d) for d in args.webhook_retry_delays.split(",") if d.strip())
    state = SimState(webhook_settings=WebhookSettings(retry_delays=delays))
    for i, name in enumerate(args.seed_tenant):
        tenant = state.create_tenant(name, args.api_key if i == 0 else None)
        seed_tenant(state, tenant)  # no webhooks exist yet, so nothing is delivered
        print(f"svenn-sim tenant={tenant.name} api_key={tenant.api_key}", flush=True)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
