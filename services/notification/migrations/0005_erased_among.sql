-- Which of these persons are erased, asked after taking their erasure locks shared: one
-- round trip for what took two (the lock, then the statement that reads erased_persons).
-- The read must come after the lock, in a snapshot of its own, to see an erasure that
-- committed while the lock was waited for. A VOLATILE function's queries each take a fresh
-- snapshot, so the caller's statement may call it and use its answer. Locks are taken in
-- one order (by id) everywhere: writers never deadlock each other.
CREATE FUNCTION erased_among(persons uuid[]) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('person:' || p::text, 0))
    FROM (SELECT DISTINCT p FROM unnest(persons) AS p WHERE p IS NOT NULL ORDER BY p) AS s;
    RETURN ARRAY(SELECT person_id FROM erased_persons WHERE person_id = ANY(persons));
END
$$;
