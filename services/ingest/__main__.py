"""``python -m services.ingest``: run this role alone (same as ``tsync run ingest``)."""

from services.runtime import Role, serve

serve([Role.INGEST])
