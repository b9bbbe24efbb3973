"""Drifti, the craftsman app whose invoices, payments, jobs and hours flow one way into Tripletex.

``simulator`` is our stand-in for Drifti's (non-public) API as designed in ``API.md``;
``client`` is the engine's production connection to it.
"""
