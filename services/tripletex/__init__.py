"""Tripletex: the accounting system side of the sync (client, simulator, writer)."""
