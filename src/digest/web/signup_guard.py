"""What keeps robots and other sites from using ``POST /subscribe``: the cross-site check
and CORS, the honeypot field and the minimum fill time.

Cross-site: a browser names the page's origin in ``Origin`` (and where it stands in
``Sec-Fetch-Site``) on a POST. Only our own origin (``DIGEST_BASE_URL``) and ``[signup] allowed_origins`` may post;
a request that says neither (a script, ``curl``) is no forged browser request and goes on
to the rate limits. Allowed origins get CORS headers, so a publisher's page may post JSON.

Robots: the form has a field people never see (:data:`HONEYPOT`) and a signed stamp of
when the page was served (:data:`STARTED`). A post that fills the one, or comes back
sooner than ``[signup] min_fill_seconds`` after the other (or with a stamp not ours), gets
the usual answer and nothing is kept or sent. A form on another site has no stamp: there
the honeypot and the rate limits do the work.
"""

from __future__ import annotations

import time
from typing import Any, Mapping
from urllib.parse import urlsplit

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

from ..settings import SignupSettings

HONEYPOT = "leave_empty"
STARTED = "started"
_SALT = "digest.signup-form"


def own_origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def foreign_origin(request: Request, own: str, signup: SignupSettings) -> str | None:
    """What a cross-site post that is not allowed came from, or None when it may go on.

    Our pages send no referrer, so a browser posting our own form says ``Origin: null``:
    ``Sec-Fetch-Site: same-origin`` is what vouches for it then."""
    origin = request.headers.get("origin")
    if origin == own or origin in signup.allowed_origins:
        return None
    site = request.headers.get("sec-fetch-site")
    if site in ("same-origin", "none") or (origin is None and site is None):
        return None
    return origin or site


def add_cors(response: Response, request: Request, signup: SignupSettings) -> Response:
    origin = request.headers.get("origin")
    if origin and origin in signup.allowed_origins:
        response.headers["access-control-allow-origin"] = origin
        response.headers["vary"] = "Origin"
    return response


def preflight(request: Request, signup: SignupSettings) -> Response:
    """The answer to a browser's ``OPTIONS`` before a cross-site JSON post."""
    if request.headers.get("origin") not in signup.allowed_origins:
        return Response(status_code=403)
    response = Response(status_code=204, headers={
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "Content-Type, Accept",
        "access-control-max-age": "600",
    })
    return add_cors(response, request, signup)


def form_stamp(secret: str) -> str:
    return TimestampSigner(secret, salt=_SALT).sign(b"subscribe").decode()


def looks_automated(values: Mapping[str, Any], secret: str, signup: SignupSettings) -> str | None:
    """Why this post is a robot's (for the log), or None."""
    if values.get(HONEYPOT):
        return "honeypot filled"
    stamp = values.get(STARTED)
    if stamp is None:
        return None
    try:
        _, signed_at = TimestampSigner(secret, salt=_SALT).unsign(str(stamp), return_timestamp=True)
    except BadSignature:
        return "form stamp not ours"
    if time.time() - signed_at.timestamp() < signup.min_fill_seconds:
        return "form sent too fast"
    return None
