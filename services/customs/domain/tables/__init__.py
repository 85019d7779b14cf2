"""Versioned reference data: each module names its legal source and the dates it applies."""
