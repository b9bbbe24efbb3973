"""In-memory Tripletex API v2 simulator.

Tripletex cannot be reached from development machines or CI, so the client and the writer
are tested against this stand-in. It copies Tripletex where a sync engine can be hurt by a
difference: session auth, envelopes, `fields` selection, paging, optimistic locking, the
Norwegian validation messages, rate limiting and webhooks. Facts come from
REFERENCE.md and the vendored OpenAPI subset (`services/tripletex/openapi/`); where the
reference is silent the choice is marked "assumption" where it is made. The main ones:

- Unset fields render as `false` (booleans), `""` (text) or `null` (dates, numbers,
  objects); `url` is `host/v2/<path>/<id>` without a scheme; new objects have version 0.
- A duplicate timesheet entry, a duplicate project/customer/account/employee number and
  an unbalanced voucher are 422 code 18000 with a message on the field; unknown fields and
  wrong JSON types are 422 code 16000; a missing required query parameter is 422 code 21000;
  an unknown name in `fields` is 400 code 11000; 429 bodies use code 429.
- Batch (`/list`) writes are all-or-nothing.
- `PUT /timesheet/entry/{id}` nulls the writable fields the body leaves out.
- Webhooks: retries after each of `WebhookConfig.retry_delays`, subscriptions become
  `DISABLED_TOO_MANY_ERRORS` after `disable_after_failures` failed deliveries in a row;
  `http://` target URLs are accepted for loopback hosts only.
- Rate budget per consumer x employee token: 10,000 requests per 60 s unless a test or an
  operator sets other numbers through `/_sim/companies/{id}/faults`.

Run it with `python -m services.tripletex.simulator --seed-company "Demo AS"`, or in
process with `create_app(SimulatorState())` (see `testing.SimulatorHarness`).
"""

from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import SimulatorState

__all__ = ["SimulatorState", "create_app"]
