"""Orders: the partner-facing API and the order's status and timeline, fed by every service's events."""
