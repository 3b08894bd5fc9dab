"""Passwords (argon2id), server-side sessions and CSRF tokens.

The session cookie holds a random token; the catalog stores only its SHA-256, so logout
and expiry are real (the row is gone) and a leaked database lets no one in. Every
state-changing request carries a CSRF token: the session's, or for anonymous forms (login,
public copy requests) a double-submit cookie."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from catalog.models import Role, User, WebSession, utcnow
from configs.digest import equal_secrets
from configs.errors import BadInputError

SESSION_COOKIE = "lantai_session"
CSRF_COOKIE = "lantai_csrf"
SESSION_HOURS = 12
MIN_PASSWORD = 8

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this keeps the time of a failed login the same whether or not the
    user exists (made on first use: 64 MiB and ~50 ms, not at import)."""
    return _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadInputError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def add_user(session: Session, *, name: str, role: str, password: str) -> User:
    """Create a user, or set a new role and password for an existing one."""
    name = name.strip()
    if not name or len(name) > 64:
        raise BadInputError("a user name is 1 to 64 characters")
    if role not in {r.value for r in Role}:
        raise BadInputError(f"role {role!r} is not one of {', '.join(r.value for r in Role)}")
    user = session.exec(select(User).where(User.name == name)).first() or User(name=name, role=role)
    user.role, user.password_hash, user.active = role, hash_password(password), True
    session.add(user)
    session.flush()
    session.execute(delete(WebSession).where(col(WebSession.user_id) == user.id))
    return user


def authenticate(session: Session, *, name: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.name == name.strip())).first()
    ok = verify_password(user.password_hash if user else "", password)
    if user is None or not ok or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User) -> tuple[str, WebSession]:
    """A new session for ``user``; returns the cookie token (shown only here) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_sha256=_digest(token),
        user_id=user.id or 0,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
    )
    session.add(row)
    session.execute(delete(WebSession).where(col(WebSession.expires_at) < utcnow()))
    return token, row


def load_session(session: Session, token: str | None) -> tuple[WebSession, User] | None:
    if not token or len(token) > 128:
        return None
    row = session.exec(select(WebSession).where(WebSession.token_sha256 == _digest(token))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(col(WebSession.token_sha256) == _digest(token)))


def tokens_match(expected: str | None, given: str | None) -> bool:
    return equal_secrets(expected, given)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
