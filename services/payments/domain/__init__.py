"""Pure payments domain: no I/O, no framework; stdlib and `shared.money` only."""
