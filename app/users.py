"""Accounts: users with a role, passwords hashed with Argon2id, kept in the state store."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app import outbox
from app.errors import Conflict, Detail, NotFound, ValidationError
from app.events import Event
from app.keys import with_implied
from app.state import StateStore, iso, utcnow

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


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None
    role: str
    created_at: str
    updated_at: str

    @property
    def scopes(self) -> frozenset[str]:
        return ROLES[self.role]

    def as_dict(self) -> dict:
        """What the API shows: never the password hash."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "scopes": sorted(self.scopes),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


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
    hashed = _HASHER.hash(check_password(password))
    now = iso(utcnow())
    with state.transaction() as db:
        if db.execute("SELECT 1 FROM users WHERE name = ? COLLATE NOCASE", (name,)).fetchone():
            raise Conflict(f"A user named '{name}' already exists")
        cur = db.execute(
            "INSERT INTO users (name, email, role, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, email, role, hashed, now, now),
        )
        outbox.add(db, [_event("user.created", cur.lastrowid, name, email, role)])
    return get_user(state, cur.lastrowid)


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
        changes["email"] = email or None
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


def authenticate(state: StateStore, name: str, password: str) -> User | None:
    """The user if the password matches; the same work is done when the name is unknown."""
    rows = state.query("SELECT * FROM users WHERE name = ?", ((name or "").strip(),))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    return _user(rows[0]) if rows else None


def _keep_an_admin(db, user: User) -> None:
    """Refuse to demote or delete the last admin: a site must keep a way in."""
    if user.role != "admin":
        return
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
