"""Ingest: changes from the connected systems become change events on the change topics."""
