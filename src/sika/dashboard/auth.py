"""Operator sessions: an API key with the ``admin`` or ``support`` scope signs
in once; the browser then holds a signed, HttpOnly, SameSite=Strict cookie
naming the key, with a CSRF token bound to it.

The cookie is signed with ``DASHBOARD_SESSION_SECRET`` and its signature
carries the time it was issued, so it is refused after
``DASHBOARD_SESSION_MAX_AGE_SECONDS`` whatever the browser does with its
Max-Age. The key's secret is never stored: each request looks the key up by
id, so revoking the key, its expiry, or taking its scope away ends the session
at once.

Every form carries the CSRF token of its session (the sign-in form, before
any session, the token of a short-lived signed cookie set with the form).
SameSite=Strict already keeps the cookies off cross-site requests; the token
is the second lock.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from sika.auth import scopes as auth_scopes
from sika.core.context import Actor

SESSION_COOKIE = "sika_dashboard_session"
LOGIN_COOKIE = "sika_dashboard_login"
LOGIN_FORM_MAX_AGE_SECONDS = 3600
"""How long a sign-in form stays valid once shown."""
CSRF_FIELD = "csrf_token"
SESSION_SALT = "sika.dashboard.session"
LOGIN_FORM_SALT = "sika.dashboard.login-form"
"""Each kind of signed value has its own salt, so one can never pass for the other."""
OPERATOR_SCOPES = frozenset({auth_scopes.Scope.admin.value, auth_scopes.Scope.support.value})
"""A key needs one of these to sign in."""
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Operator:
    """Who is signed in: the key, and the CSRF token of this session."""

    key_id: str
    key_name: str
    scopes: frozenset[str]
    csrf_token: str
    platform_id: str | None
    """The platform the key is bound to: the dashboard then shows only that platform."""

    def actor(self, *, request_id: str | None) -> Actor:
        return Actor(id=f"key:{self.key_id}", scopes=self.scopes, request_id=request_id, platform_id=self.platform_id)


@dataclass(frozen=True)
class SessionClaims:
    key_id: str
    csrf_token: str


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""

    def __init__(self, *, ended: bool) -> None:
        self.ended = ended
        """A session was presented but is over (expired, key revoked): the page says so."""
        super().__init__("login required")


class CsrfRefused(Exception):
    """A form came without the token of the session it claims."""


def may_sign_in(scopes: frozenset[str]) -> bool:
    return bool(scopes & OPERATOR_SCOPES)


class Signer:
    def __init__(self, secret: SecretStr, *, max_age_seconds: int) -> None:
        self.max_age_seconds = max_age_seconds
        self._sessions = URLSafeTimedSerializer(secret.get_secret_value(), salt=SESSION_SALT)
        self._login_forms = URLSafeTimedSerializer(secret.get_secret_value(), salt=LOGIN_FORM_SALT)

    def issue_session(self, *, key_id: str) -> tuple[str, str]:
        """The cookie value of a new session, and its CSRF token."""
        csrf_token = secrets.token_urlsafe(_TOKEN_BYTES)
        return self._sessions.dumps({"k": key_id, "c": csrf_token}), csrf_token

    def read_session(self, value: str | None) -> SessionClaims | None:
        payload = _loads(self._sessions, value, max_age=self.max_age_seconds)
        if not isinstance(payload, dict):
            return None
        key_id, csrf_token = payload.get("k"), payload.get("c")
        if not isinstance(key_id, str) or not isinstance(csrf_token, str):
            return None
        return SessionClaims(key_id=key_id, csrf_token=csrf_token)

    def issue_login_form(self) -> tuple[str, str]:
        """The cookie value sent with a sign-in form, and the token the form carries."""
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        return self._login_forms.dumps(token), token

    def login_form_matches(self, cookie: str | None, submitted: str | None) -> bool:
        expected = _loads(self._login_forms, cookie, max_age=LOGIN_FORM_MAX_AGE_SECONDS)
        return isinstance(expected, str) and tokens_match(expected, submitted)


def tokens_match(expected: str, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(expected.encode(), submitted.encode())


def _loads(serializer: URLSafeTimedSerializer, value: str | None, *, max_age: int) -> Any:
    if not value or len(value) > 4096:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except BadSignature:  # SignatureExpired is one too
        return None
