"""Accounts: users with a role, passwords hashed with Argon2id, kept in the state store."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from dataclasses import dataclass, replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from vellum.auth.keys import with_implied
from vellum.errors import Conflict, Detail, NotFound, RateLimited, ValidationError
from vellum.site.schema import LOCKOUT_ATTEMPTS, LOCKOUT_MINUTES
from vellum.site.site import Site
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.sql import Connection, IntegrityError
from vellum.store.state import StateStore, iso, utcnow

log = logging.getLogger("vellum")

# What each role may do. `read` sees published records, `read:drafts` drafts too (and
# `write` implies it: see keys.IMPLIED).
ROLES: dict[str, frozenset[str]] = {
    "admin": with_implied({"read", "read:drafts", "write", "admin"}),
    "editor": with_implied({"read", "read:drafts", "write"}),
    "author": with_implied({"read", "read:drafts", "write"}),
    "viewer": with_implied({"read", "read:drafts"}),
}
MIN_PASSWORD = 8
# Names start with a letter, so a reference that is all digits is an id.
USER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so both paths take the same time.
_DUMMY_HASH = _HASHER.hash("vellum-no-such-user")
# Failures are counted under the name as typed, cut here: no real name is this long.
FAILURE_NAME_LENGTH = 100


@dataclass(frozen=True)
class Lockout:
    """vellum.yml's auth.lockout: so many failed sign-ins within so many minutes lock a name."""

    attempts: int = LOCKOUT_ATTEMPTS
    minutes: float = LOCKOUT_MINUTES

    @property
    def seconds(self) -> float:
        return self.minutes * 60


@dataclass(frozen=True)
class SignInFailures:
    """A name's failed sign-ins that still count, and until when it is locked."""

    count: int
    last_at: str | None
    last_ip: str | None
    locked_until: str | None

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "lastAt": self.last_at,
            "lastIp": self.last_ip,
            "lockedUntil": self.locked_until,
        }


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None
    role: str
    created_at: str
    updated_at: str
    failures: SignInFailures | None = None  # filled in where admins look (with_failures)

    @property
    def scopes(self) -> frozenset[str]:
        return ROLES[self.role]

    def as_dict(self) -> dict:
        """What the API shows: never the password hash."""
        shown = {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "scopes": sorted(self.scopes),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        if self.failures is not None:
            shown["failedSignIns"] = self.failures.as_dict()
        return shown


class AccountLocked(RateLimited):
    """Too many failed sign-ins for one name: no password is checked for it until then."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-ins for this account; try again in {_wait(retry_after)}"
        )
        self.retry_after = retry_after


class UserNotFound(NotFound):
    def __init__(self, ref) -> None:
        super().__init__(f"No user '{ref}'")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            "Invalid role", [Detail("role", f"expected one of {', '.join(ROLES)}, got {role!r}")]
        )
    return role


def check_password(password: str) -> str:
    if not isinstance(password, str):
        raise ValidationError("Invalid password", [Detail("password", "expected a string")])
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            "Password too short",
            [Detail("password", f"must be at least {MIN_PASSWORD} characters")],
        )
    return password


def check_email(email: str | None) -> str | None:
    """A well-formed address (no DNS lookup), normalised; None or '' is no address.

    It ends up in commit authors and events: a newline or a second address must not.
    """
    if email is None or email == "":
        return None
    if not isinstance(email, str):
        raise ValidationError("Invalid email", [Detail("email", "expected a string")])
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError("Invalid email", [Detail("email", str(exc))]) from exc


def create_user(
    state: StateStore, name: str, password: str, role: str = "viewer", email: str | None = None
) -> User:
    """Add an account; names are unique."""
    name = name.strip() if isinstance(name, str) else name
    if not name:
        raise ValidationError("Name required", [Detail("name", "is required")])
    if not isinstance(name, str) or not USER_NAME.match(name):
        detail = "a letter, then letters, digits, '.', '_' or '-' (at most 64)"
        raise ValidationError("Invalid user name", [Detail("name", detail)])
    check_role(role)
    email = check_email(email)
    hashed = _HASHER.hash(check_password(password))
    now = iso(utcnow())
    taken = Conflict(f"A user named '{name}' already exists")
    try:
        with state.transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE lower(name) = lower(?)", (name,)).fetchone():
                raise taken
            # The unique index on lower(name) refuses the loser of a race on PostgreSQL.
            user_id = db.execute(
                "INSERT INTO users (name, email, role, password_hash, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (name, email, role, hashed, now, now),
            ).fetchone()[0]
            outbox.add(db, [_event("user.created", user_id, name, email, role)])
    except IntegrityError as exc:
        raise taken from exc
    return get_user(state, user_id)


def list_users(state: StateStore) -> list[User]:
    return [_user(row) for row in state.query("SELECT * FROM users ORDER BY id")]


def count_users(state: StateStore) -> int:
    return state.query("SELECT COUNT(*) AS n FROM users")[0]["n"]


def get_user(state: StateStore, ref: int | str) -> User:
    """By numeric id or by name."""
    column = "id" if isinstance(ref, int) or str(ref).isdigit() else "name"
    rows = state.query(f"SELECT * FROM users WHERE {column} = ?", (ref,))
    if not rows:
        raise UserNotFound(ref)
    return _user(rows[0])


def update_user(
    state: StateStore,
    ref: int | str,
    *,
    role: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> User:
    user = get_user(state, ref)
    changes: dict[str, str | None] = {}
    if role is not None:
        changes["role"] = check_role(role)
    if email is not None:
        changes["email"] = check_email(email)
    if password is not None:
        changes["password_hash"] = _HASHER.hash(check_password(password))
    if changes:
        changes["updated_at"] = iso(utcnow())
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with state.transaction() as db:
            if role is not None and role != "admin":
                _keep_an_admin(db, user)
            db.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*changes.values(), user.id))
            after = {"email": user.email, "role": user.role, **changes}
            event = _event("user.updated", user.id, user.name, after["email"], after["role"])
            # Which fields changed; for the password only that it did, never to what.
            event.data["changed"] = sorted(
                "password" if c == "password_hash" else c for c in changes if c != "updated_at"
            )
            outbox.add(db, [event])
    return get_user(state, user.id)


def delete_user(state: StateStore, ref: int | str) -> User:
    user = get_user(state, ref)
    with state.transaction() as db:
        _keep_an_admin(db, user)
        db.execute("DELETE FROM users WHERE id = ?", (user.id,))
        outbox.add(db, [_event("user.deleted", user.id, user.name, user.email, user.role)])
    return user


def _event(name: str, user_id: int, user: str, email: str | None, role: str) -> Event:
    """A user.* event: who, never a password or its hash."""
    data = {"id": user_id, "name": user, "email": email, "role": role}
    return Event(name, data, key=f"user:{user_id}")


def authenticate(
    state: StateStore,
    name: str,
    password: str,
    lockout: Lockout = Lockout(),
    ip: str | None = None,
) -> User | None:
    """The user if the password matches; the same work is done when the name is unknown.

    A name with `lockout.attempts` failures within `lockout.minutes` raises AccountLocked
    without a password being checked, the right one included, from any address; unknown
    names are counted and locked alike, so the answers never tell whether a user exists.
    """
    name = (name or "").strip()
    attempt = _start_attempt(state, name, lockout, ip)
    # Names are unique whatever their case, so a sign-in finds its user whatever the case.
    rows = state.query("SELECT * FROM users WHERE lower(name) = lower(?)", (name,))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        _failed(state, name, lockout, ip)
        return None
    if not rows:
        _failed(state, name, lockout, ip)
        return None
    with state.transaction() as db:  # it was no failure after all
        db.execute("DELETE FROM sign_in_failures WHERE id = ?", (attempt,))
    return _user(rows[0])


def lockout_of(site: Site) -> Lockout:
    """vellum.yml's auth.lockout, typed: a ConfigError naming what is wrong."""
    given = site.setting("auth", "lockout")
    return Lockout(given.attempts, given.minutes)


def with_failures(state: StateStore, found: list[User], lockout: Lockout) -> list[User]:
    """The users with their failed sign-ins that still count, as admins see them."""
    since = time.time() - lockout.seconds
    # Per name: how many, and the newest's time and address.
    rows = state.query(
        "SELECT f.name, c.n, f.at AS last, f.ip FROM sign_in_failures f JOIN"
        " (SELECT name, COUNT(*) AS n, MAX(id) AS newest FROM sign_in_failures"
        " WHERE at >= ? GROUP BY name) c ON f.id = c.newest",
        (since,),
    )
    counts = {row["name"]: row for row in rows}
    shown = []
    for user in found:
        row = counts.get(_failure_key(user.name))
        until = _locked_until(state.connection(), _failure_key(user.name), lockout) if row else None
        failures = SignInFailures(
            row["n"] if row else 0,
            _moment(row["last"]) if row else None,
            row["ip"] if row else None,
            _moment(until),
        )
        shown.append(replace(user, failures=failures))
    return shown


def _failure_key(name: str) -> str:
    """Failures count per name whatever its case, as sign-ins find the user whatever it is."""
    return name[:FAILURE_NAME_LENGTH].lower()


def _start_attempt(state: StateStore, name: str, lockout: Lockout, ip: str | None) -> int:
    """Refuse a locked name; else count this attempt as a failure until it succeeds, so
    that parallel guesses cannot slip in more than `attempts` checks between them."""
    key, now = _failure_key(name), time.time()
    with state.transaction() as db:
        db.lock(f"sign-in:{key}")  # count and check as one, on every machine
        db.execute("DELETE FROM sign_in_failures WHERE at < ?", (now - lockout.seconds,))
        until = _locked_until(db, key, lockout, now)
        if until is None:
            attempt = db.execute(
                "INSERT INTO sign_in_failures (name, at, ip) VALUES (?, ?, ?) RETURNING id",
                (key, now, ip),
            ).fetchone()[0]
    if until is not None:
        log.info("Refused a sign-in for locked name %r from %s", key, ip)
        raise AccountLocked(max(1, math.ceil(until - now)))
    return attempt


def _failed(state: StateStore, name: str, lockout: Lockout, ip: str | None) -> None:
    """Log a failed sign-in (its count was kept when it started), and the lock it causes."""
    key = _failure_key(name)
    since = time.time() - lockout.seconds
    count = state.query(
        "SELECT COUNT(*) AS n FROM sign_in_failures WHERE name = ? AND at >= ?", (key, since)
    )[0]["n"]
    window = f"{lockout.minutes:g} minutes"
    log.warning("Failed sign-in for %r from %s: %d within %s", key, ip, count, window)
    if count >= lockout.attempts:
        log.warning("Sign-ins for %r are locked: %d failures within %s", key, count, window)


def _locked_until(
    db: Connection, key: str, lockout: Lockout, now: float | None = None
) -> float | None:
    """When the name's lock ends: its `attempts`-th newest failure leaves the window."""
    now = time.time() if now is None else now
    found = db.execute(
        "SELECT at FROM sign_in_failures WHERE name = ? AND at >= ?"
        " ORDER BY at DESC LIMIT 1 OFFSET ?",
        (key, now - lockout.seconds, lockout.attempts - 1),
    ).fetchone()
    return found["at"] + lockout.seconds if found else None


def _moment(epoch: float | None) -> str | None:
    return iso(dt.datetime.fromtimestamp(epoch, dt.UTC)) if epoch else None


def _wait(seconds: int) -> str:
    """'40 seconds', '15 minutes': how long a locked name waits, as people say it."""
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _keep_an_admin(db, user: User) -> None:
    """Refuse to demote or delete the last admin: a site must keep a way in."""
    if user.role != "admin":
        return
    db.lock("admins")  # two admins demoted at once must not leave none
    admins = db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetchone()[0]
    if admins <= 1:
        raise Conflict("This is the last admin: make another admin first")


def _user(row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        role=row["role"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
