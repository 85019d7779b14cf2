"""Pure fulfillment domain: no I/O, no framework; stdlib only, time passed in as aware UTC."""
