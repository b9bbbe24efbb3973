"""Sync decision: change events in, commands out. Rules are pure; this package's I/O is at its edge."""
