"""Run the simulator: `python -m services.tripletex.simulator --port 8081 --seed-company "Demo AS"`.

Prints each seeded company's tokens so a client can mint a session straight away.
"""

from __future__ import annotations

import argparse

import uvicorn

from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import SimulatorState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.tripletex.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--seed-company",
        action="append",
        default=[],
        metavar="NAME",
        help="create a company at start (repeatable)",
    )
    args = parser.parse_args(argv)
    state = SimulatorState()
    for name in args.seed_company:
        company = state.create_company(name)
        print(
            f"company {company.id} {name!r}: consumerToken={company.consumer_token} "
            f"employeeToken={company.employee_token}",
            flush=True,
        )
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
