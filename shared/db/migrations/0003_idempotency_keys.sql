-- HTTP Idempotency-Key: one row per (caller, route, key), written in the transaction that ran
-- the command, so the first answer is kept exactly when the command's effects are.
-- `body_hash` binds the key to the request body; `message_id` is the inbox id the command ran
-- under (derived from caller, route and key), deleted together with the row on purge.
CREATE TABLE idempotency_keys (
    caller       text        NOT NULL,
    route        text        NOT NULL,
    key          text        NOT NULL,
    body_hash    text        NOT NULL,
    message_id   text        NOT NULL,
    status_code  integer     NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, route, key)
);
-- Retention: rows older than the configured age are purged by created_at.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
