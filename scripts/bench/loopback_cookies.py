"""Secure cookies over loopback, for the portal benchmarks.

The portal's cookies are Secure. Browsers send them to http://127.0.0.1 (a potentially
trustworthy origin); Python's cookie jar sends them only over HTTPS, and requests copies the
jar into a fresh one with the default policy on every request, so a custom policy is lost.
Before each request the flag is cleared on cookies of loopback hosts: what the
browser does, for loopback only.
"""

from __future__ import annotations

from typing import Any

LOOPBACK = ("127.0.0.1", "localhost")


def trust_loopback(session: Any) -> None:
    """Lets a requests session send the portal's Secure cookies to a loopback portal.

    Cookies set by a redirect's first leg are not seen before its second: post logins with
    ``allow_redirects=False``.
    """
    send = session.request

    def request(*args: Any, **kwargs: Any) -> Any:
        for cookie in session.cookies:
            if cookie.domain in LOOPBACK:
                cookie.secure = False
        return send(*args, **kwargs)

    session.request = request
