-- A county branch's adopted development areas (utviklingsområder) per round, which its
-- municipalities' applications pick from; an application may add its own and be tagged
-- with the programme's themes.
CREATE TABLE development_areas (
    round_id   text NOT NULL REFERENCES rounds (round_id),
    branch_id  text NOT NULL,
    areas      text[] NOT NULL,
    set_at     timestamptz NOT NULL,
    set_by     text,
    PRIMARY KEY (round_id, branch_id)
);
ALTER TABLE applications ADD COLUMN own_development_areas text[] NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN themes text[] NOT NULL DEFAULT '{}';
