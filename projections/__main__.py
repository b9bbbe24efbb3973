"""``python -m projections``: run the projections alone (same as ``tsync run projections``)."""

from services.runtime import Role, serve

serve([Role.PROJECTIONS])
