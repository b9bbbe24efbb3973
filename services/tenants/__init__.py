"""The tenant registry: tenants' connections in PostgreSQL, credentials encrypted at rest, pausing."""
