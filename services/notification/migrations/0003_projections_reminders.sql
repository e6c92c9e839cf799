-- What the service knows from registration's and scheduling's events, to know whom to tell.

-- A county branch's board contact: the person who last registered interest for the branch.
CREATE TABLE branch_contacts (
    branch_id          text PRIMARY KEY,
    branch_name        text NOT NULL,
    county_numbers     text[] NOT NULL,
    contact_person_id  uuid NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Interest per round and branch, with the municipalities it named: the interest reminder
-- goes to branches without a row, the application reminder asks about named municipalities
-- whose application is not submitted.
CREATE TABLE interest (
    round_id              text NOT NULL,
    branch_id             text NOT NULL,
    municipality_numbers  text[] NOT NULL,
    PRIMARY KEY (round_id, branch_id)
);

-- Deadlines as registration published them (interest: county_number '').
CREATE TABLE deadlines (
    round_id       text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('interest', 'application')),
    county_number  text NOT NULL DEFAULT '',
    deadline       date NOT NULL,
    closes_at      timestamptz NOT NULL,
    PRIMARY KEY (round_id, kind, county_number)
);

-- Applications and their kommunegruppe (person ids and roles only).
CREATE TABLE applications (
    round_id             text NOT NULL,
    municipality_number  text NOT NULL,
    county_number        text NOT NULL,
    branch_id            text NOT NULL,
    status               text NOT NULL,
    PRIMARY KEY (round_id, municipality_number)
);
CREATE TABLE group_members (
    round_id             text NOT NULL,
    municipality_number  text NOT NULL,
    person_id            uuid NOT NULL,
    role                 text NOT NULL,
    PRIMARY KEY (round_id, municipality_number, person_id)
);

-- Gatherings and who is invited to them, for reminders and calendar updates.
CREATE TABLE gatherings (
    gathering_id  uuid PRIMARY KEY,
    round_id      text NOT NULL,
    region        text NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    venue         jsonb NOT NULL DEFAULT '{}',
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    sequence      integer NOT NULL,
    cancelled     boolean NOT NULL DEFAULT false
);
CREATE TABLE invitations (
    invitation_id        uuid PRIMARY KEY,
    gathering_id         uuid NOT NULL,
    person_id            uuid,
    municipality_number  text,
    branch_id            text,
    role                 text NOT NULL,
    active               boolean NOT NULL DEFAULT true
);
CREATE INDEX invitations_gathering ON invitations (gathering_id) WHERE active;

-- Supervisors (veiledere) by programme management's id; their contact set over HTTP.
CREATE TABLE supervisors (
    supervisor_id  text PRIMARY KEY,
    name           text NOT NULL,
    email          text NOT NULL,
    language       text NOT NULL DEFAULT 'nb',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Reminders are durable: one row per (what, which moment), due at `due_at`. Sent once: the
-- worker claims a due row with SKIP LOCKED and plans its mails in the same transaction. A
-- moved date drops the pending rows of the old date and plans new ones; a cancellation
-- drops them.
CREATE TABLE reminders (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('interest_deadline', 'application_deadline',
                                              'gathering')),
    subject     text NOT NULL,          -- round, round:county, or the gathering id
    version     text NOT NULL,          -- the deadline date or the gathering's sequence
    days_before integer NOT NULL,
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped')),
    done_at     timestamptz,
    UNIQUE (kind, subject, version, days_before)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'pending';

-- Opt-out of reminders, per person; mandatory messages are sent regardless.
CREATE TABLE reminder_opt_outs (
    person_id   uuid PRIMARY KEY,
    opted_out_at timestamptz NOT NULL DEFAULT now()
);

-- Deliveries: claimed for sending (status 'sending' with a lease in next_attempt_at), sent
-- outside any transaction, then marked; a refusal or a broken template ends as 'failed'.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled'));
ALTER TABLE deliveries ADD COLUMN supervisor_id text;
ALTER TABLE deliveries ADD COLUMN reply_to_person_id uuid;
ALTER TABLE deliveries ADD COLUMN reminder boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN failed_at timestamptz;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_created ON deliveries (created_at);
