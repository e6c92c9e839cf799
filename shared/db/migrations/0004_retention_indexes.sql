-- Housekeeping deletes outbox and inbox rows by age, in batches; without these indexes each
-- batch scans the whole table, which at volume is most of the table every hour.
CREATE INDEX outbox_done_at ON outbox (coalesce(published_at, discarded_at))
    WHERE published_at IS NOT NULL OR discarded_at IS NOT NULL;
CREATE INDEX inbox_processed_at ON inbox (processed_at);
