"""What the backend does (ingest, auth, query, ...): plain functions over the store; never parses HTTP."""
