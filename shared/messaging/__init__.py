"""Messages: the CloudEvents envelope, the bus with inbox and outbox, consuming, dead
letters, retries, wake-ups, replay, and the Kafka clients and topic set-up."""
