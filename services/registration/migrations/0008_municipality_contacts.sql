-- The contact person a board names for each interested municipality (optional): invited to
-- the presamlinger in the municipality's name. Their data is in persons, like every contact.
CREATE TABLE interest_municipality_contacts (
    registration_id      uuid NOT NULL REFERENCES interest_registrations (id),
    municipality_number  text NOT NULL,
    person_id            uuid NOT NULL REFERENCES persons (id),
    PRIMARY KEY (registration_id, municipality_number)
);
CREATE INDEX interest_municipality_contacts_person ON interest_municipality_contacts (person_id);
