"""The sync rules, one module per rule family, each a pure function of (event, links) -> commands."""
