"""Reference data of the customs service: shipped files, loaders, the in-memory cache.

`python -m services.customs.reference --help` lists the operator commands.
"""
