"""The Raymon backend: ingest API, store, query API, engine and UI (``pip install "raymon[server]"``).

Importing this package needs the ``server`` extra (FastAPI, SQLAlchemy, Alembic);
the client (``import raymon``) must never import it.
"""
