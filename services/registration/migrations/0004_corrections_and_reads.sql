-- A round can be closed (no more intake; decisions go on) or cancelled (nothing more).
ALTER TABLE rounds ADD COLUMN state text NOT NULL DEFAULT 'open'
    CHECK (state IN ('open', 'closed', 'cancelled'));
ALTER TABLE rounds ADD COLUMN state_reason text;

-- Programme management may take an admission back.
ALTER TABLE applications DROP CONSTRAINT applications_status_check;
ALTER TABLE applications ADD CONSTRAINT applications_status_check CHECK (status IN
    ('draft', 'submitted', 'admitted', 'waitlisted', 'declined', 'withdrawn', 'revoked'));
-- Who decided, and why early; a withdrawal and a revocation are facts of their own.
ALTER TABLE applications
    ADD COLUMN decided_by text,
    ADD COLUMN early_reason text,
    ADD COLUMN promoted_from_waitlist boolean NOT NULL DEFAULT false,
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawn_by text,
    ADD COLUMN withdrawal_reason text,
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN revoked_by text,
    ADD COLUMN revocation_reason text;

ALTER TABLE persons ADD COLUMN erased_by text;

-- What each registration of interest said, first and every update after it.
CREATE TABLE interest_history (
    seq                   bigserial PRIMARY KEY,
    registration_id       uuid NOT NULL REFERENCES interest_registrations (id),
    at                    timestamptz NOT NULL,
    municipality_numbers  text[] NOT NULL,
    added                 text[] NOT NULL,
    removed               text[] NOT NULL,
    contact_changed       boolean NOT NULL,
    message               text NOT NULL
);
CREATE INDEX interest_history_registration ON interest_history (registration_id, seq);
