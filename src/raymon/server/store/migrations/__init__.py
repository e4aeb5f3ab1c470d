"""Alembic migrations of the store, applied programmatically at start-up (see ``store.db.Database.migrate``)."""

from __future__ import annotations

from typing import Any

from raymon.server.store import tag_terms, text_search


def include_name(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic's ``include_name`` hook: leave out what migrations make that the models do not declare
    (the index of texts, 0021; the traces' tag terms, 0022) when comparing schemas."""
    return text_search.include_name(name, type_) and tag_terms.include_name(name, type_)
