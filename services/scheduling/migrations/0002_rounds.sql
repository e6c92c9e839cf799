-- The rounds registration has opened (and closed or cancelled): a gathering needs one.
CREATE TABLE rounds (
    round_id   text PRIMARY KEY,
    state      text NOT NULL  -- open | closed | cancelled
);
