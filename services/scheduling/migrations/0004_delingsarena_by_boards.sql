-- County boards help arrange delingsarenaer: one a board scheduled itself names its branch,
-- and a board's proposal waits for programme management to take it up.
ALTER TABLE gatherings ADD COLUMN arranged_by text;

CREATE TABLE delingsarena_proposals (
    id            uuid PRIMARY KEY,
    round_id      text NOT NULL,
    region        text NOT NULL,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    wished_dates  date[] NOT NULL DEFAULT '{}',
    venue         jsonb,
    proposed_at   timestamptz NOT NULL,
    proposed_by   text,
    gathering_id  uuid REFERENCES gatherings (id)  -- the delingsarena that took it up
);
CREATE INDEX delingsarena_proposals_round ON delingsarena_proposals (round_id, region, proposed_at);
