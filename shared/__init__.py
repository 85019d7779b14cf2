"""Liège eHub common library: event contracts, Kafka runtime, outbox/inbox, telemetry, settings.

Everything the four services share lives here, once. Services never import each other.
"""
