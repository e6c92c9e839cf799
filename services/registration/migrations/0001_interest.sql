-- People whose contact details this service holds (the only place they are kept).
CREATE TABLE persons (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    phone       text,
    language    text NOT NULL DEFAULT 'nb',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE interest_registrations (
    id                    uuid PRIMARY KEY,
    round_id              text NOT NULL,
    branch_id             text NOT NULL,
    municipality_numbers  text[] NOT NULL,
    contact_person_id     uuid NOT NULL REFERENCES persons (id),
    message               text NOT NULL,
    registered_at         timestamptz NOT NULL,
    UNIQUE (round_id, branch_id)
);
