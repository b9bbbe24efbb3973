"""Switching a tenant's integration on: the readiness report (a dry run) and the initial sync."""
