"""Users, passwords, sessions, CSRF tokens, login throttling and API tokens of the inbox.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (argon2id, its default
parameters, RFC 9106 "second recommended option"). Session cookies, API tokens and
CSRF tokens are 32 random bytes (``secrets.token_urlsafe``); sessions and API tokens
are stored only as their SHA-256 hex digest.

Throttling: at most :data:`MAX_FAILURES` failed logins per :data:`THROTTLE_WINDOW`
per username and per client address; beyond that :func:`login` raises
:class:`LoginThrottled` without checking the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session, sessionmaker

from wegwijs.db.models import USER_ROLES, ApiToken, LoginAttempt, User, UserSession, utcnow

#: How long a session lives without activity, and at most.
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)
#: Failed logins allowed per username and per address in the window.
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
#: Shortest password accepted by ``wegwijs users add|reset-password``.
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
#: A hash to verify against when the username is unknown, so that a wrong username
#: takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """Bad user data (unknown role, short password, duplicate username...)."""


class LoginFailed(Exception):
    """Wrong username or password, or a disabled user (one message for all)."""


class LoginThrottled(Exception):
    """Too many failed logins for this username or address in the window."""


@dataclass(frozen=True)
class Principal:
    """The logged-in user as the inbox needs it (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    municipality: Optional[str]
    staff_key: Optional[str]

    @property
    def actor(self) -> str:
        """The audit-log actor: ``inbox:<username>``."""
        return f"inbox:{self.username}"

    @classmethod
    def from_user(cls, user: User) -> "Principal":
        return cls(
            id=user.id, username=user.username, display_name=user.display_name, role=user.role,
            municipality=user.municipality, staff_key=user.staff_key,
        )


@dataclass(frozen=True)
class NewSession:
    """What :func:`login` returns: the cookie token (only here in clear) and the CSRF token."""

    token: str
    csrf_token: str
    principal: Principal


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a session or API token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """argon2id hash of ``password``.

    Raises:
        AuthError: shorter than :data:`MIN_PASSWORD_LENGTH`.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def _normal_username(username: str) -> str:
    return username.strip().lower()


def add_user(
    session_factory: sessionmaker,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    municipality: str | None = None,
    staff_key: str | None = None,
) -> Principal:
    """Create a user.

    Raises:
        AuthError: unknown role, a klantmanager or sleutelpersoon without gemeente, a
            sleutelpersoon without staff key, a short password, or a username in use.
    """
    username = _normal_username(username)
    if not username or len(username) > 100 or not all(c.isalnum() or c in "._-@" for c in username):
        raise AuthError("username: 1-100 letters, digits or . _ - @")
    if role not in USER_ROLES:
        raise AuthError(f"role must be one of {', '.join(USER_ROLES)}")
    municipality = (municipality or "").strip() or None
    staff_key = (staff_key or "").strip() or None
    if role != "admin" and municipality is None:
        raise AuthError(f"a {role} needs a gemeente (--municipality)")
    if role == "sleutelpersoon" and staff_key is None:
        raise AuthError("a sleutelpersoon needs --staff-key (their key in municipalities/routing/)")
    password_hash = hash_password(password)
    with session_factory.begin() as session:
        exists = session.execute(sa.select(User.id).where(User.username == username)).first()
        if exists:
            raise AuthError(f"username {username!r} is already in use")
        user = User(
            username=username, display_name=(display_name or username).strip(), role=role,
            municipality=municipality, staff_key=staff_key, password_hash=password_hash,
            disabled=False, created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        return Principal.from_user(user)


def _get_user(session: Session, username: str) -> User | None:
    return session.execute(
        sa.select(User).where(User.username == _normal_username(username))
    ).scalar_one_or_none()


def list_users(session_factory: sessionmaker) -> list[tuple[Principal, bool]]:
    """Every user with their ``disabled`` flag, by username."""
    with session_factory.begin() as session:
        rows = session.execute(sa.select(User).order_by(User.username)).scalars()
        return [(Principal.from_user(u), bool(u.disabled)) for u in rows]


def reset_password(session_factory: sessionmaker, username: str, password: str) -> None:
    """Set a new password and end the user's sessions.

    Raises:
        AuthError: unknown user or short password.
    """
    password_hash = hash_password(password)
    with session_factory.begin() as session:
        user = _get_user(session, username)
        if user is None:
            raise AuthError(f"no user {username!r}")
        user.password_hash = password_hash
        session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))


def disable_user(session_factory: sessionmaker, username: str) -> None:
    """Disable a user: no login, sessions and API tokens deleted.

    Raises:
        AuthError: unknown user.
    """
    with session_factory.begin() as session:
        user = _get_user(session, username)
        if user is None:
            raise AuthError(f"no user {username!r}")
        user.disabled = True
        session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))
        session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))


def create_api_token(session_factory: sessionmaker, username: str) -> str:
    """Create an API token for ``username`` and return it (the only time it is readable).

    Raises:
        AuthError: unknown or disabled user.
    """
    token = secrets.token_urlsafe(32)
    with session_factory.begin() as session:
        user = _get_user(session, username)
        if user is None or user.disabled:
            raise AuthError(f"no active user {username!r}")
        session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), created_at=utcnow()))
    return token


def principal_for_api_token(session_factory: sessionmaker, token: str) -> Principal | None:
    """The active user owning ``token`` (and note its use), or None."""
    if not token:
        return None
    with session_factory.begin() as session:
        row = session.execute(
            sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_digest(token))
        ).first()
        if row is None or row.User.disabled:
            return None
        row.ApiToken.last_used = utcnow()
        return Principal.from_user(row.User)


def _failures_since(session: Session, column: sa.Column, value: str, since: datetime) -> int:
    return int(session.execute(
        sa.select(sa.func.count()).select_from(LoginAttempt)
        .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
    ).scalar_one())


def login(
    session_factory: sessionmaker, username: str, password: str, *, address: str,
    now: datetime | None = None,
) -> NewSession:
    """Check the password and open a new session.

    Args:
        address: the client's IP address (for throttling; at most 64 characters kept).

    Raises:
        LoginThrottled: :data:`MAX_FAILURES` failures for this username or address in
            the last :data:`THROTTLE_WINDOW` (the password is not checked).
        LoginFailed: unknown username, wrong password or disabled user.
    """
    now = now or utcnow()
    name = _normal_username(username)[:100]
    address = (address or "unknown")[:64]
    with session_factory.begin() as session:
        session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))
        since = now - THROTTLE_WINDOW
        if (_failures_since(session, LoginAttempt.username, name, since) >= MAX_FAILURES
                or _failures_since(session, LoginAttempt.address, address, since) >= MAX_FAILURES):
            raise LoginThrottled(name)
        user = _get_user(session, name)
        ok = False
        try:
            ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        ok = ok and user is not None and not user.disabled
        session.add(LoginAttempt(at=now, username=name, address=address, succeeded=ok))
        if not ok:
            session.flush()
    if not ok:
        raise LoginFailed(name)
    with session_factory.begin() as session:
        user = _get_user(session, name)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session.add(UserSession(
            id=token_digest(token), user_id=user.id, csrf_token=csrf, created_at=now,
            expires_at=now + SESSION_MAX, last_seen=now,
        ))
        return NewSession(token=token, csrf_token=csrf, principal=Principal.from_user(user))


@dataclass(frozen=True)
class ActiveSession:
    """A valid session: who, and the CSRF token its forms must carry."""

    principal: Principal
    csrf_token: str


def session_for_token(
    session_factory: sessionmaker, token: str, *, now: datetime | None = None
) -> ActiveSession | None:
    """The session of cookie ``token`` if it is valid (not expired, not idle too long,
    user active); its ``last_seen`` is updated. Expired sessions are deleted."""
    if not token:
        return None
    now = now or utcnow()
    with session_factory.begin() as session:
        row = session.execute(
            sa.select(UserSession, User).join(User, User.id == UserSession.user_id)
            .where(UserSession.id == token_digest(token))
        ).first()
        if row is None:
            return None
        stored, user = row.UserSession, row.User
        if user.disabled or stored.expires_at <= now or stored.last_seen + SESSION_IDLE <= now:
            session.delete(stored)
            return None
        stored.last_seen = now
        return ActiveSession(principal=Principal.from_user(user), csrf_token=stored.csrf_token)


def logout(session_factory: sessionmaker, token: str) -> None:
    """End the session of cookie ``token`` (nothing happens for an unknown token)."""
    with session_factory.begin() as session:
        session.execute(sa.delete(UserSession).where(UserSession.id == token_digest(token)))


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
