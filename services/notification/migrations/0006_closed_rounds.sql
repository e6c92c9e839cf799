-- Rounds closed or cancelled: a board contact set later is not invited to their interest.
CREATE TABLE closed_rounds (
    round_id   text PRIMARY KEY,
    closed_at  timestamptz NOT NULL DEFAULT now()
);
