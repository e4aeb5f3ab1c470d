"""The store: every SQL statement of the backend, the schema (models), migrations and the object store.

One module per noun, each a set of functions that take the caller's SQLAlchemy
session first and answer typed rows (NamedTuples), never ORM objects, JSON or
HTTP errors (a missing row is ``None``; a store condition is a store exception
such as ``data_objects.ObjectBodyMissing``):

- ``traces``: trace-list pages (received order from a tag index, time order), one trace, its texts;
- ``tags``: the tags of a page of traces, tag value counts;
- ``data_objects``: object metadata, lists, per-ref counts, export batches, ``read_body``;
- ``accounts``: projects, API keys, users and memberships;
- ``profiles``: stored model profiles;
- ``tagfilter_sql``: a parsed tag filter as SQL, and the one planner of capped match counts;
- ``writes`` (+ ``write_sqlite``/``write_postgresql`` behind ``RowWriter``): ingest, exactly once;
- ``keyset``: the "after this sort key" condition of every list; ``db``: engine, sessions, migrations.

The transaction convention (one for the whole backend): a service opens the
transaction, one ``with backend.reading()`` (``Database.session``) or
``with backend.writing()`` (``Database.write_session``, committed at the end of
the block, rolled back on an exception) per service call, and passes its
session to store functions; store functions never open, commit or roll back
(they may ``flush``). Routes, the CLI and the demo call services and never open
a transaction themselves. Nothing here knows about HTTP; the layers test
(``tests/server/test_layers.py``) keeps SQLAlchemy and the models out of
``server/api``, ``server/services`` and ``server/engine``.
"""
