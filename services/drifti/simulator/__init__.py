"""In-memory simulator of Drifti's API (``services/drifti/API.md``), with fault injection."""

from services.drifti.simulator.app import create_app
from services.drifti.simulator.state import SimState
from services.drifti.simulator.webhooks import WebhookSettings

__all__ = ["SimState", "WebhookSettings", "create_app"]
