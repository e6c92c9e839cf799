-- Mellomarbeid: what each kommunegruppe of a region does after a samling, before the next,
-- and the reports of it (one per municipality, the latest kept).
CREATE TABLE interim_work (
    id                  uuid PRIMARY KEY,
    round_id            text NOT NULL,
    region              text NOT NULL,
    after_gathering_id  uuid NOT NULL REFERENCES gatherings (id),
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    due_on              date NOT NULL,
    set_at              timestamptz NOT NULL
);
CREATE INDEX interim_work_region ON interim_work (round_id, region, due_on);

CREATE TABLE interim_work_reports (
    interim_work_id      uuid NOT NULL REFERENCES interim_work (id),
    municipality_number  text NOT NULL,
    report               text NOT NULL,
    reported_at          timestamptz NOT NULL,
    PRIMARY KEY (interim_work_id, municipality_number)
);
