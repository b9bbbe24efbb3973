-- What both sides held after the last applied write, as the canonical snapshot (JSON), and when.
-- The decision compares a change with it: equal content is the engine's own write coming back
-- (an echo, not synced again); otherwise only the fields that differ are written.
ALTER TABLE link ADD COLUMN synced_snapshot jsonb;
ALTER TABLE link ADD COLUMN synced_at timestamptz;
ALTER TABLE link DROP COLUMN last_written;
