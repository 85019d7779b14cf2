"""Customs: whether an order clears, under which lane and declaration, and what it owes."""
