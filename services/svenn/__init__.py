"""Svenn, the field-service app synced two-way with Tripletex.

Svenn's real API is not public, so this package holds our own design of it (``API.md``),
a simulator that implements that design (``simulator``) and the production async client the
engine uses (``client``). The two are written independently against the document, so tests
that run one against the other catch drift between them.
"""
