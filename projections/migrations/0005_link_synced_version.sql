-- The record's own version (on its side) after the engine's last write to it. A change event from
-- that side carrying this version or an older one is not news: the engine's write coming back, or
-- a delivery that was overtaken (webhooks arrive out of order).
ALTER TABLE link ADD COLUMN synced_version bigint;
