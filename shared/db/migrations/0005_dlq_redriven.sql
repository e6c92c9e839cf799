-- Dead letters re-driven by `kulturskole dlq redrive`, one row per letter, so the next
-- `--all` passes over them. A DLQ is a log that is never edited, and letters chosen one by one
-- or by a filter leave gaps that one committed offset per partition cannot say; a row per
-- letter can. `ce_id` is kept with the place, so a DLQ deleted and made again (offsets from 0)
-- does not pass over new letters that happen to lie where old ones did.
CREATE TABLE dlq_redriven (
    dlq_topic      text        NOT NULL,
    dlq_partition  integer     NOT NULL,
    dlq_offset     bigint      NOT NULL,
    ce_id          text,
    original_topic text        NOT NULL,
    redriven_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
