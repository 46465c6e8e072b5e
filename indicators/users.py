"""User accounts: who may log in to the dashboard, and whether they may change the record.

Accounts live in the store's ``users`` table (migration 0002). Two roles:

- ``viewer``: reads everything (as an anonymous visitor does);
- ``editor``: also adds, imports, corrects and retracts observations, starts fits, saves
  scenarios and sets alerts.

Passwords are hashed with Argon2id (``argon2-cffi``, its default parameters: RFC 9106's low-memory
profile, 46 MiB, 3 passes, with a random salt per hash); only the encoded hash is stored. The
password itself is never stored, logged or put in an error message. A hash made with weaker
parameters than today's defaults is replaced at the next successful login.

Nothing is deleted: :func:`deactivate_user` switches an account off (it can no longer log in, and
a session it opened stops counting), and adding the name again re-activates it with a new
password. Every change of an account, and every login attempt on an existing account, is written
to the audit trail (the password never).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from indicators.errors import BadInput
from indicators.observations import utcnow
from indicators.store import Store, retrying, users

ROLES = ("viewer", "editor")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_HASHER: Any = None


def _hasher() -> Any:
    global _HASHER
    if _HASHER is None:
        from argon2 import PasswordHasher

        _HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
    return _HASHER


def hash_password(password: str) -> str:
    """The Argon2id hash (PHC string, salt included) of ``password``."""
    return _hasher().hash(password)


def check_name(name: str) -> str:
    """The user name, stripped; BadInput unless it is 1-64 letters, digits or ``. _ @ -``."""
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise BadInput(f"user name '{name[:80]}' is not allowed; use 1-64 letters, digits, '.', '_', '@' "
                       "or '-', starting with a letter or digit.")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"role '{role}' is unknown; use one of {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    """BadInput unless the password is long enough (the message never repeats the password)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"the password is too short; use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadInput(f"the password is too long; use at most {MAX_PASSWORD_LENGTH} characters.")
    if password != password.strip():
        raise BadInput("the password starts or ends with a space or a line break; remove it.")
    return password


@retrying
def add_user(store: Store, name: str, password: str, role: str, *, actor: str) -> str:
    """Create an account (or re-activate a deactivated one with a new password and role).

    Returns ``"added"`` or ``"reactivated"``; BadInput if the name is taken by an active account
    or the name, role or password is not acceptable.
    """
    name = check_name(name)
    check_role(role)
    check_password(password)
    password_hash = hash_password(password)  # slow on purpose: outside the write transaction
    with store._write() as conn:
        row = conn.execute(sa.select(users.c.active).where(users.c.name == name)).first()
        if row is not None and row.active:
            raise BadInput(f"user '{name}' exists already; remove it first to replace it.")
        if row is None:
            conn.execute(users.insert().values(name=name, password_hash=password_hash, role=role,
                                               created_at=utcnow(), active=True))
            store._audit(conn, actor, "user.add", {"name": name, "role": role})
            return "added"
        conn.execute(users.update().where(users.c.name == name)
                     .values(password_hash=password_hash, role=role, active=True))
        store._audit(conn, actor, "user.reactivate", {"name": name, "role": role})
        return "reactivated"


def list_users(store: Store, *, include_inactive: bool = True) -> list[dict[str, Any]]:
    """Accounts by name: ``name``, ``role``, ``active``, ``created_at`` (never the hash)."""
    q = sa.select(users.c.name, users.c.role, users.c.active, users.c.created_at).order_by(users.c.name)
    if not include_inactive:
        q = q.where(users.c.active == sa.true())
    with store._read() as conn:
        return [{"name": r.name, "role": r.role, "active": bool(r.active), "created_at": r.created_at}
                for r in conn.execute(q)]


@retrying
def deactivate_user(store: Store, name: str, *, actor: str) -> None:
    """Switch an account off (kept for the record); BadInput if there is no such active account."""
    name = (name or "").strip()
    with store._write() as conn:
        row = conn.execute(sa.select(users.c.active).where(users.c.name == name)).first()
        if row is None or not row.active:
            known = [r for r in conn.execute(sa.select(users.c.name).where(users.c.active == sa.true())
                                             .order_by(users.c.name)).scalars()]
            hint = f"active users: {', '.join(known)}" if known else "there are no active users"
            raise BadInput(f"there is no active user '{name[:80]}'; {hint}.")
        conn.execute(users.update().where(users.c.name == name).values(active=False))
        store._audit(conn, actor, "user.deactivate", {"name": name})


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    """The active account ``name`` as ``{"name", "role"}``, or None."""
    with store._read() as conn:
        row = conn.execute(sa.select(users.c.name, users.c.role).where(
            users.c.name == name, users.c.active == sa.true())).first()
    return None if row is None else {"name": row.name, "role": row.role}


@retrying
def verify(store: Store, name: str, password: str) -> dict[str, Any] | None:
    """Check a login: the account as ``{"name", "role"}`` if the password is right, else None.

    An unknown or deactivated name costs the same hashing time as a wrong password, so response
    times do not tell which names exist. Attempts on existing accounts are audited.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    name = (name or "").strip()
    hasher = _hasher()
    with store._read() as conn:
        row = conn.execute(sa.select(users.c.name, users.c.role, users.c.password_hash).where(
            users.c.name == name, users.c.active == sa.true())).first() if NAME_PATTERN.fullmatch(name) else None
    if row is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        try:
            hasher.verify(_dummy_hash(), "not the password")
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        with store._write() as conn:
            store._audit(conn, name, "user.login_failed", {"name": name})
        return None
    with store._write() as conn:
        if hasher.check_needs_rehash(row.password_hash):
            conn.execute(users.update().where(users.c.name == name).values(password_hash=hasher.hash(password)))
        store._audit(conn, name, "user.login", {"name": name})
    return {"name": row.name, "role": row.role}


_DUMMY: str | None = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password("a password nobody has")
    return _DUMMY


def count_active(store: Store, *, role: str | None = None) -> int:
    """How many active accounts there are (of ``role``, if given)."""
    q = sa.select(sa.func.count()).select_from(users).where(users.c.active == sa.true())
    if role is not None:
        q = q.where(users.c.role == role)
    with store._read() as conn:
        return int(conn.execute(q).scalar_one())


def has_accounts(store: Store) -> bool:
    return count_active(store) > 0


def has_editor(store: Store) -> bool:
    return count_active(store, role="editor") > 0


__all__ = [
    "ROLES",
    "add_user",
    "check_name",
    "check_password",
    "check_role",
    "count_active",
    "deactivate_user",
    "get_user",
    "has_accounts",
    "has_editor",
    "hash_password",
    "list_users",
    "verify",
]
