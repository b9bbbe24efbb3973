"""``python -m services.decision``: run this role alone (same as ``tsync run decision``)."""

from services.runtime import Role, serve

serve([Role.DECISION])
