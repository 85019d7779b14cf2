"""The shapes of the reference tables and the lookups on them; the data is loaded, not here.

Each module builds its table from rows (`from_rows`), as the loader validates them from the
shipped CSV files (services/customs/reference/data/) or an operator's file.
"""
