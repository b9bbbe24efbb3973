"""PostgreSQL read models built from the topics, rebuildable by replaying them."""
