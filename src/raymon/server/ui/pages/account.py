"""The signed-in person's account: ``GET /account`` and ``POST /account/password``.

Changing the password needs the current one and the new one twice; the new
one passes the CLI's rule (``passwords.check_new_password``). It ends every
other session of the account (``ui_sessions.change_password``), so a browser
left signed in elsewhere is signed out; this one stays. A wrong current
password counts as a failed sign-in (rate-limited like one).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import passwords, ui_sessions
from raymon.server.services.errors import InvalidInputError, NotAuthenticatedError, TooManyAttemptsError
from raymon.server.services.ui_sessions import Viewer
from raymon.server.ui.auth import viewer
from raymon.server.ui.pages.login import client_address, too_many_attempts_message
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, error: str | None = None, changed: int | None = None, status_code: int = 200
) -> Response:
    context = {"error": error, "changed": changed, "min_length": passwords.MIN_PASSWORD_LENGTH}
    return render(request, "account/account.html", context, status_code=status_code)


@router.get("/account")
def account_page(request: Request, changed: str = "", who: Viewer = Depends(viewer)) -> Response:  # noqa: B008
    return _page(request, changed=int(changed) if changed.isdigit() else None)  # the notice after a change


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    new_again: str = Form(""),
    who: Viewer = Depends(viewer),  # noqa: B008
) -> Response:
    if new != new_again:
        return _page(request, error="The two new passwords differ: nothing was changed.", status_code=422)
    try:
        ended = ui_sessions.change_password(get_backend(request), who, current, new, client_address(request))
    except TooManyAttemptsError as exc:
        response = _page(request, error=too_many_attempts_message(request, exc), status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (NotAuthenticatedError, InvalidInputError) as exc:
        return _page(request, error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.", status_code=exc.status_code)
    return RedirectResponse(f"/account?changed={ended}", status_code=303)
