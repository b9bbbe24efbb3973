"""Replay, re-sync and dead-letter administration: the operator's tools around the topics."""
