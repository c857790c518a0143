"""Rendering console pages: one Jinja2 environment with autoescaping on for every template.

Everything a complainant, a subscriber or an attacker wrote reaches a page only through
``{{ }}``, which escapes it; raw mail is shown in ``<pre>`` as text, never as HTML. Pages get
the translator ``t``, the language, the operator and the CSRF token, and filters for JST times,
yen and masked personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from trustdesk.access.roles import Permission
from trustdesk.access.service import SessionUser
from trustdesk.privacy.masking import mask_email, mask_name, mask_phone
from trustdesk.timeutil import to_jst
from trustdesk.web import i18n


class LoginRequired(Exception):
    """The page needs a logged-in operator; the handler sends the browser to /login."""


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("trustdesk.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        jst=jst,
        jst_iso=jst_iso,
        deadline=deadline,
        yen=yen,
        mask_email=mask_email,
        mask_name=mask_name,
        mask_phone=mask_phone,
    )
    return env


def language(request: Request) -> str:
    return i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE))


def render(
    request: Request,
    template: str,
    user: SessionUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    translator = i18n.Translator(lang)
    values = {
        "request": request,
        "lang": lang,
        "t": translator,
        "user": user,
        "csrf": user.csrf_token if user else context.pop("csrf", ""),
        "i18n": i18n,
        "permissions": Permission,
        "now_iso": request.app.state.runtime.now().isoformat(),
        "flash": unquote(request.cookies.get(FLASH_COOKIE) or "") or None,
        **context,
    }
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if values["flash"]:
        response.delete_cookie(FLASH_COOKIE)
    return response


FLASH_COOKIE = "td_flash"


def redirect(path: str, flash: str | None = None) -> RedirectResponse:
    """303 to ``path`` after a form (post/redirect/get), with a one-time message."""
    response = RedirectResponse(path, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="lax")
    return response


def safe_next(target: str | None, default: str = "/queue") -> str:
    """A path on this site only: an open redirect would let a phishing link borrow our name."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def jst(moment: datetime | str | None, seconds: bool = False) -> str:
    """A moment in JST; also the ISO text of the views' JSON (``cases.views``)."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return to_jst(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def deadline(moment: datetime | None) -> str:
    """A deadline as people count it: a period in days ends at 24:00 of its last day (Civil
    Code Art. 141), so 00:00 is written as 24:00 of the day before."""
    if moment is None:
        return "-"
    local = to_jst(moment)
    if local.hour == local.minute == local.second == 0:
        return f"{(local - timedelta(days=1)):%Y-%m-%d} 24:00"
    return f"{local:%Y-%m-%d %H:%M}"


def jst_iso(moment: datetime | None) -> str:
    return "" if moment is None else to_jst(moment).isoformat()


def yen(amount: int | None) -> str:
    """Whole yen with separators (seed 002 §12)."""
    return "-" if amount is None else f"{amount:,}円"
