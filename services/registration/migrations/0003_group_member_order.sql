-- Keep a kommunegruppe in the order it was registered (members added in one transaction
-- share added_at).
ALTER TABLE group_members ADD COLUMN seq bigserial;
