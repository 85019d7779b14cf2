"""Reliable messaging: transactional outbox, idempotent inbox, unit of work, Kafka runtime."""
