-- Who took the initiative to a gathering, when its letters should say so: a dialogmøte that
-- programme management proposed itself (no board asked for it). One row per such gathering.
CREATE TABLE gathering_initiative (
    gathering_id           uuid PRIMARY KEY,
    proposed_by_programme  boolean NOT NULL DEFAULT false
);
