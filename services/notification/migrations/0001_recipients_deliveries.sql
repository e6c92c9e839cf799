-- Recipients, projected from the restricted contacts topic.
CREATE TABLE recipients (
    person_id   uuid PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    language    text NOT NULL DEFAULT 'nb',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per mail to send: at most one per (event, recipient, template), sent by the
-- mail worker and retried until the SMTP server accepts it. A person recipient whose
-- contact details have not arrived yet waits here.
CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    event_id         text NOT NULL,
    recipient_key    text NOT NULL,          -- 'person:<uuid>' or 'mailbox:<address>'
    person_id        uuid,
    address          text,                   -- fixed address (mailbox); NULL for persons
    template         text NOT NULL,
    language         text,                   -- NULL: the recipient's own language
    context          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (event_id, recipient_key, template)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
