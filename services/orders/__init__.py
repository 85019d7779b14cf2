"""Orders: the partner API, and each order's status and timeline from all events."""
