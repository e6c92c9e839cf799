-- The programme calendar: semesters and gatherings per round and region (county branch).
CREATE TABLE semesters (
    round_id   text NOT NULL,
    region     text NOT NULL,
    number     int  NOT NULL CHECK (number BETWEEN 0 AND 3),  -- 0: the pre-round
    starts_on  date NOT NULL,
    ends_on    date NOT NULL CHECK (ends_on >= starts_on),
    PRIMARY KEY (round_id, region, number)
);

CREATE TABLE gatherings (
    id                   uuid PRIMARY KEY,
    round_id             text NOT NULL,
    region               text NOT NULL,
    kind                 text NOT NULL,
    title                text NOT NULL,
    venue                jsonb NOT NULL,
    starts_at            timestamptz NOT NULL,
    ends_at              timestamptz NOT NULL CHECK (ends_at > starts_at),
    capacity             int CHECK (capacity IS NULL OR capacity > 0),
    semester             int,
    status               text NOT NULL DEFAULT 'scheduled',
    sequence             int NOT NULL DEFAULT 0,
    municipality_number  text,      -- veiledning: the municipality it is for
    supervisor_id        text,      -- veiledning: who supervises
    also_invite          text[] NOT NULL DEFAULT '{}',
    request_id           uuid,      -- dialogmøte: the request it answers
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gatherings_region ON gatherings (round_id, region, starts_at);
CREATE INDEX gatherings_supervisor ON gatherings (supervisor_id, starts_at)
    WHERE supervisor_id IS NOT NULL;

-- One row per gathering and invitee, for good: withdrawing deactivates, re-inviting reactivates,
-- so the invitation id (uuid5 of gathering and invitee) never changes.
CREATE TABLE invitations (
    id                   uuid PRIMARY KEY,
    gathering_id         uuid NOT NULL REFERENCES gatherings (id),
    invitee_key          text NOT NULL,
    person_id            uuid,
    municipality_number  text,
    branch_id            text,
    role                 text NOT NULL,
    active               boolean NOT NULL DEFAULT true,
    rsvp                 text,
    attended             boolean,
    issued_at            timestamptz NOT NULL DEFAULT now(),
    withdrawn_at         timestamptz,
    withdrawn_reason     text,
    UNIQUE (gathering_id, invitee_key)
);
CREATE INDEX invitations_person ON invitations (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX invitations_municipality ON invitations (municipality_number);

CREATE TABLE dialogue_requests (
    id             uuid PRIMARY KEY,
    round_id       text NOT NULL,
    region         text NOT NULL,
    topic          text NOT NULL,
    wished_dates   date[] NOT NULL DEFAULT '{}',
    requested_at   timestamptz NOT NULL,
    gathering_id   uuid REFERENCES gatherings (id)
);

-- What registration's events have said, as far as invitations need it (ids and roles only).
CREATE TABLE interests (
    round_id             text NOT NULL,
    branch_id            text NOT NULL,
    contact_person_id    uuid,
    municipality_numbers text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (round_id, branch_id)
);

CREATE TABLE participants (
    round_id             text NOT NULL,
    municipality_number  text NOT NULL,
    branch_id            text NOT NULL,
    county_number        text NOT NULL,
    status               text NOT NULL,  -- submitted | admitted | withdrawn
    PRIMARY KEY (round_id, municipality_number)
);

CREATE TABLE group_members (
    round_id             text NOT NULL,
    municipality_number  text NOT NULL,
    person_id            uuid NOT NULL,
    role                 text NOT NULL,
    PRIMARY KEY (round_id, municipality_number, person_id)
);
CREATE INDEX group_members_person ON group_members (person_id);
