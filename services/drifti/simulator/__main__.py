"""Run the simulator: ``python -m services.drifti.simulator --port 8083 --demo-tenant demo``.

Demo tenants' API keys are printed on stdout so a developer can paste them into curl or an
engine config; ``--api-key`` pins the key so scripts need not parse that output.
"""

from __future__ import annotations

import argparse

import uvicorn

from services.drifti.simulator.app import create_app
from services.drifti.simulator.seed import create_demo_tenant, parse_month
from services.drifti.simulator.state import SimState
from services.drifti.simulator.webhooks import WebhookSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="drifti-sim", description="Drifti API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument(
        "--demo-tenant",
        action="append",
        default=[],
        metavar="NAME",
        help="create this tenant with a demo month of data (repeatable)",
    )
    parser.add_argument("--api-key", default=None, help="API key for the (first) demo tenant")
    parser.add_argument("--demo-seed", type=int, default=1)
    parser.add_argument("--demo-month", default=None, help="YYYY-MM (default: last month)")
    parser.add_argument(
        "--webhook-retry-delays",
        default="1,5,30,120,600",
        help="comma-separated seconds between delivery attempts",
    )
    args = parser.parse_args(argv)

    delays = tuple(float(d) for d in args.webhook_retry_delays.split(",") if d.strip())
    state = SimState(webhook_settings=WebhookSettings(retry_delays=delays))
    month = parse_month(args.demo_month) if args.demo_month else None
    for i, name in enumerate(args.demo_tenant):
        tenant = create_demo_tenant(
            state, name, args.api_key if i == 0 else None, seed=args.demo_seed, month=month
        )
        print(f"drifti-sim tenant={tenant.name} api_key={tenant.api_key}", flush=True)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
