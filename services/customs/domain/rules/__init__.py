"""The rules, one module per concern; each records what it decided in a `Findings`."""
