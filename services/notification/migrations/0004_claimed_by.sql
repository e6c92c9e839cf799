-- Which mail worker holds a claimed mail: its key, also held as a session advisory lock
-- while it lives. A crashed worker's connections are gone, so are its locks: its claimed
-- mails are due again at once instead of when their lease runs out.
ALTER TABLE deliveries ADD COLUMN claimed_by integer;
