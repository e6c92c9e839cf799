-- The contact person a board named for an interested municipality (ids only): invited to the
-- presamlinger in the municipality's name instead of the municipality as such.
CREATE TABLE interest_municipality_contacts (
    round_id             text NOT NULL,
    branch_id            text NOT NULL,
    municipality_number  text NOT NULL,
    person_id            uuid NOT NULL,
    PRIMARY KEY (round_id, branch_id, municipality_number)
);
CREATE INDEX interest_municipality_contacts_person ON interest_municipality_contacts (person_id);
