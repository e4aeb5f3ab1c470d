"""The store: SQL schema (models), migrations, database access and the object store.

Nothing here knows about HTTP; routes reach it only through services.
"""
