-- Parking: a row the broker refuses for good (too large for the topic, unknown topic, not
-- authorized) is set aside with its reason instead of being retried forever. Later rows of the
-- same topic and key wait behind it, so a key's order holds; other keys flow on.
-- `kulturskole outbox retry` un-parks a row; `outbox discard` gives it up on purpose, with a
-- reason, and lets the rows behind it go.
ALTER TABLE outbox
    ADD COLUMN parked_at        timestamptz,
    ADD COLUMN parked_reason    text,
    ADD COLUMN discarded_at     timestamptz,
    ADD COLUMN discarded_reason text;

-- For every batch the relay asks whether an earlier row of a row's topic and key is parked;
-- parked rows are few, so this index stays tiny and the question cheap.
CREATE INDEX outbox_parked ON outbox (topic, key, id)
    WHERE parked_at IS NOT NULL AND published_at IS NULL AND discarded_at IS NULL;
