-- What the probe did: one row per time its handler ran to the end (a doubled effect shows as
-- two rows), and which messages are held back ("the database is away" for them).
CREATE TABLE probe_effects (
    seq        integer NOT NULL,
    pid        integer NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE probe_gate (
    seq     integer PRIMARY KEY,
    open    boolean NOT NULL DEFAULT false
);
-- Counts the attempts at a closed gate; a sequence is not rolled back with the handler.
CREATE SEQUENCE probe_gate_attempts;
