-- Member municipalities of Norsk kulturskoleråd (only members take part).
CREATE TABLE members (
    municipality_number  text PRIMARY KEY,
    added_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rounds (
    round_id             text PRIMARY KEY,
    interest_deadline    date NOT NULL,
    capacity_per_branch  jsonb NOT NULL DEFAULT '{}',
    opened_at            timestamptz NOT NULL DEFAULT now()
);

-- Per county, opened after that county's annual meeting.
CREATE TABLE application_windows (
    round_id       text NOT NULL REFERENCES rounds (round_id),
    county_number  text NOT NULL,
    opens_on       date NOT NULL,
    deadline       date NOT NULL,
    PRIMARY KEY (round_id, county_number)
);

ALTER TABLE interest_registrations ADD COLUMN updated_at timestamptz;

ALTER TABLE persons ADD COLUMN erased_at timestamptz;
ALTER TABLE persons ALTER COLUMN name DROP NOT NULL;
ALTER TABLE persons ALTER COLUMN email DROP NOT NULL;

CREATE TABLE applications (
    id                   uuid PRIMARY KEY,
    round_id             text NOT NULL REFERENCES rounds (round_id),
    municipality_number  text NOT NULL,
    county_number        text NOT NULL,
    branch_id            text NOT NULL,
    status               text NOT NULL CHECK (status IN
                           ('draft', 'submitted', 'admitted', 'waitlisted', 'declined', 'withdrawn')),
    motivation           text NOT NULL DEFAULT '',
    development_areas    text[] NOT NULL DEFAULT '{}',
    co_creation_plan     text NOT NULL DEFAULT '',
    draft_group          jsonb NOT NULL DEFAULT '[]',  -- until submitted; then group_members
    submitted_at         timestamptz,
    decided_at           timestamptz,
    decision_reason      text,
    waitlist_sequence    bigint,
    UNIQUE (round_id, municipality_number)
);
CREATE SEQUENCE waitlist_order;

CREATE TABLE group_members (
    application_id  uuid NOT NULL REFERENCES applications (id),
    person_id       uuid NOT NULL REFERENCES persons (id),
    role            text NOT NULL,
    organisation    text NOT NULL,
    committed       boolean NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (application_id, person_id)
);
