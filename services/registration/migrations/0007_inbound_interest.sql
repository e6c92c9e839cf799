-- Interest that came by e-mail to the programme mailbox, kept before the mail server answers
-- 250: a mail naming one branch waits for programme management to confirm or reject it; one
-- naming none (or several) is listed as unrecognised for a person to handle. Never dropped.
CREATE TABLE inbound_interest (
    id               uuid PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    message_id       text,
    mail_from        text NOT NULL,
    sender_name      text NOT NULL,
    sender_email     text NOT NULL,
    subject          text NOT NULL DEFAULT '',
    body             text NOT NULL DEFAULT '',
    branch_id        text,
    candidates       text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'unrecognised', 'confirmed', 'rejected')),
    decided_at       timestamptz,
    decided_by       text,
    reason           text,
    registration_id  uuid
);
-- A sender that did not hear our 250 sends the same mail again: it is kept once.
CREATE UNIQUE INDEX inbound_interest_message_id ON inbound_interest (message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX inbound_interest_open ON inbound_interest (received_at)
    WHERE status IN ('pending', 'unrecognised');
