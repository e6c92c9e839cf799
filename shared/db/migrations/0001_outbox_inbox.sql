-- Transactional outbox: rows written in the same transaction as the state change,
-- published by the relay in id order and marked afterwards.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    key           text,
    headers       jsonb       NOT NULL,
    payload       bytea,               -- NULL is a tombstone (compacted topics)
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Idempotent consumer: one row per handled message id, written with its effects.
CREATE TABLE inbox (
    message_id    text        PRIMARY KEY,
    type          text        NOT NULL,
    topic         text        NOT NULL,
    kafka_partition integer,
    kafka_offset  bigint,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
