"""The processing engine: what turns stored traces into monitoring.

- ``manifest``: the typed model of a project's YAML manifest (actions, slices, settings).
- ``jobs``: the contract of engine work: a job is a row (``store.jobs``), claimed with a
  lease, run by a handler of its kind, completed fenced by worker and attempt.
- ``events``: what the engine tells the alert channels (issue events).
- ``mappers``: which map jobs new objects make (in their ingest transaction) and the ``map``
  job that runs a mapper on a trace exactly once; ``builtin_mappers``: ``profile_eval``, ``webhook``.

The engine reaches data only through ``raymon.server.store``'s functions (a test guards
the imports); it never imports FastAPI and never parses HTTP.
"""
