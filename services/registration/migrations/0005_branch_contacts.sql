-- Each county branch's board contact, kept by programme management (reference data): the
-- person told when a round opens and reminded before its interest deadline.
CREATE TABLE branch_contacts (
    branch_id  text PRIMARY KEY,
    person_id  uuid NOT NULL REFERENCES persons (id),
    set_at     timestamptz NOT NULL,
    set_by     text
);
