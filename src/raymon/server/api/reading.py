"""What the read routes share: checked text parameters, download headers, the read/ingest access types.

It never talks SQL and never decides what a route answers.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends

from raymon.server.api.deps import ProjectAccess, require_scope
from raymon.server.services.text_params import check_text

_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")

# The caller's access to the path's project, checked: ``read`` for queries, ``ingest`` to store.
ReadAccess = Annotated[ProjectAccess, Depends(require_scope("read"))]
IngestAccess = Annotated[ProjectAccess, Depends(require_scope("ingest"))]


def checked_text(param: str, value: str | None) -> str | None:
    """Refuse what no stored name or value can hold (NUL characters, absurd lengths) with a 422 naming it.

    The rule is ``services.text_params.check_text``, the same the admin services apply.
    """
    return None if value is None else check_text(param, value)


def attachment(filename: str) -> str:
    """A Content-Disposition value that makes a browser save the body as ``filename`` (made safe)."""
    safe = _FILENAME_UNSAFE.sub("_", filename).strip("._") or "download"
    return f'attachment; filename="{safe[:200]}"'


def required_text(param: str, value: str) -> str:
    """``checked_text`` for a value that is always given (a path segment)."""
    checked_text(param, value)
    return value
