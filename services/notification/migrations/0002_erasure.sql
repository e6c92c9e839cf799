-- Persons erased upstream, by id only: contact details of an erased person that arrive late
-- or again (a redelivery, a consumer rebuilding from the topic) are not taken back in.
CREATE TABLE erased_persons (
    person_id  uuid PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now()
);

-- A mail to an erased person can never be sent: it is cancelled, not left pending.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'cancelled'));
