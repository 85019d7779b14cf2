"""Payments service: authorises, captures, voids and refunds order payments."""
