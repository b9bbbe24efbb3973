"""In-memory simulator of Svenn's API (``services/svenn/API.md``), with fault injection."""

from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.webhooks import WebhookSettings

__all__ = ["SimState", "WebhookSettings", "create_app"]
