-- Dialogmøter both ways: a request is a board's, or one programme management made for a
-- meeting it proposed itself; who asked is kept with it.
ALTER TABLE dialogue_requests
    ADD COLUMN origin text NOT NULL DEFAULT 'board' CHECK (origin IN ('board', 'programme')),
    ADD COLUMN requested_by text;

-- Other actors invited to a dialogmøte by name and address: personal data, kept here and told
-- to notification on the restricted contacts topic only. One person id per address.
CREATE TABLE guests (
    person_id     uuid PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL,
    language      text NOT NULL DEFAULT 'nb',
    organisation  text
);
CREATE UNIQUE INDEX guests_email ON guests (lower(email));

CREATE TABLE gathering_guests (
    gathering_id  uuid NOT NULL REFERENCES gatherings (id),
    person_id     uuid NOT NULL REFERENCES guests (person_id) ON DELETE CASCADE,
    PRIMARY KEY (gathering_id, person_id)
);
