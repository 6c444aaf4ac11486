"""The console's sessions: who logged in with which token, kept in this process's memory.

The browser holds only a random session id (cookie `hookgate_console`: HttpOnly,
SameSite=Strict, Path=/console, Secure when the console is reached over HTTPS); the token
stays on the server and is sent to the admin API as `Authorization: Bearer` on each
call. Every write form carries the session's CSRF token, compared in constant time.
Sessions end on logout, after `IDLE_SECONDS` without a request, or when the process
restarts (log in again).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE", "IDLE_SECONDS", "Session", "Sessions"]

COOKIE = "hookgate_console"
#: A session unused this long is forgotten.
IDLE_SECONDS = 8 * 3600
#: Sessions kept at most (the least recently used is forgotten first).
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    token: str = field(repr=False)
    #: The token's name and role, as the admin API's `/whoami` said.
    name: str
    role: str
    csrf: str = field(repr=False)
    seen: float

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, token: str, name: str, role: str) -> Session:
        session = Session(
            secrets.token_urlsafe(32), token, name, role, secrets.token_urlsafe(32), self.clock()
        )
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def of(self, request: Request) -> Session | None:
        """The live session whose id the request's cookie holds, if any."""
        found = self._sessions.get(request.cookies.get(COOKIE, ""))
        if found is None:
            return None
        now = self.clock()
        if now - found.seen > IDLE_SECONDS:
            del self._sessions[found.id]
            return None
        found.seen = now
        self._sessions.move_to_end(found.id)
        return found

    def end(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    @staticmethod
    def set_cookie(response: Response, request: Request, session: Session | None) -> None:
        """Set (or, for None, clear) the session cookie on `response`."""
        response.set_cookie(
            COOKIE,
            session.id if session is not None else "",
            max_age=IDLE_SECONDS if session is not None else 0,
            path="/console",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
