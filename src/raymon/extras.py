"""Which optional extra a missing package belongs to, and the error that says how to install it.

The base install is the light logging client (orjson, httpx, click). Parts that
need more say so when their packages are missing, in one wording, instead of
a bare ``ModuleNotFoundError``. Never imports an optional package itself.
"""

from __future__ import annotations

import sys

# The top-level import names each extra brings (pip names differ: sklearn is scikit-learn, PIL is pillow).
EXTRA_PACKAGES: dict[str, frozenset[str]] = {
    "profiles": frozenset({"numpy", "pandas", "scipy", "sklearn", "datasketches", "PIL", "tqdm"}),
    "server": frozenset(
        {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pyarrow", "jinja2", "multipart", "yaml"}
    ),
}


def install_hint(extra: str) -> str:
    return f'pip install "raymon[{extra}]"'


def require_extra(extra: str, what: str) -> None:
    """Refuse, with the install hint, when a package of ``extra`` is not installed (nothing is imported).

    Catches the packages that ``what`` imports only when a method needs them (SciPy for drift,
    scikit-learn for scores), so the hint comes at import, not in the middle of a build.
    """
    import importlib.util

    missing = []
    for package in sorted(EXTRA_PACKAGES[extra], key=str.lower):
        try:
            found = package in sys.modules or importlib.util.find_spec(package) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    if missing:
        names = ", ".join(repr(name) for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        raise ModuleNotFoundError(
            f"{what} needs the {extra!r} extra, and {names} {verb} not installed: {install_hint(extra)}",
            name=missing[0],
        )


def missing_extra(extra: str, what: str, exc: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error to raise when ``what`` could not import ``exc.name``, part of ``extra``.

    A module missing for another reason (not one of the extra's packages) is handed back as it was.
    """
    top = (exc.name or "").split(".")[0]
    if top not in EXTRA_PACKAGES.get(extra, frozenset()):
        return exc
    return ModuleNotFoundError(
        f"{what} needs the {extra!r} extra, and {top!r} is not installed: {install_hint(extra)}",
        name=exc.name,
    )


__all__ = ["EXTRA_PACKAGES", "install_hint", "missing_extra"]
