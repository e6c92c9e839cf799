"""A service process: its declaration and composition root, settings, logs, problems,
auth, idempotency, housekeeping, lag, the command registry and the Kafka ACLs."""
