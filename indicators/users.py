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
password. Every change of an account and every login attempt (with the address it came from) is
written to the audit trail (the password never).

Logins, sessions and throttling from the audit trail
----------------------------------------------------
The audit trail is the one record every server process (and every host behind one address)
shares, and it already holds each login, failed login and change of an account, so sessions and
throttling are derived from it rather than kept in tables of their own:

- A session is the audit entry of the login that opened it (:func:`verify` returns its id as
  ``session``). :func:`session_user` accepts it while the account is active and no later entry
  ends it: a logout of that session (:func:`end_session`), or the account being removed,
  re-activated or added again. So a cookie saved before logging out, or before an account was
  removed and added back, no longer counts. The check reads only entries newer than the login
  (a range of the primary key), at most a session's lifetime of them.
- Throttling (:func:`login_lock`): after ``ACCOUNT_FREE_FAILURES`` failed logins on a name, or
  ``ADDRESS_FREE_FAILURES`` from one address, since the last successful one and within
  ``FAILURE_MEMORY``, further attempts are refused without checking the password until
  ``FIRST_LOCK`` after the last failure, doubling with every further failure up to
  ``LONGEST_LOCK``. Unknown names are counted the same way, so a lock does not tell which names
  exist. Attempts refused while locked are not counted, so hammering a locked account does not
  extend its lock. Checking the lock and the password are separate reads, so a burst of
  simultaneous attempts may get a few more guesses than the limit. Counting reads the last day's
  login entries; the audit table has no index on time, so that is a pass over it, paid only on a
  login attempt, which costs a password hash anyway.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indicators.errors import BadInput
from indicators.observations import utcnow
from indicators.store import Store, audit, retrying, users

ROLES = ("viewer", "editor")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

ACCOUNT_FREE_FAILURES = 5  # failed logins on one name before it is locked
ADDRESS_FREE_FAILURES = 20  # from one address (several people may share one, e.g. behind NAT)
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
FAILURE_MEMORY = timedelta(hours=24)  # older failures no longer count

LOGIN, LOGIN_FAILED, LOGOUT = "user.login", "user.login_failed", "user.logout"
#: Changes of an account that end all of its sessions.
ACCOUNT_RESETS = ("user.add", "user.reactivate", "user.deactivate")

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
        raise BadInput(
            f"user name '{name[:80]}' is not allowed; use 1-64 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit."
        )
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
            conn.execute(
                users.insert().values(
                    name=name, password_hash=password_hash, role=role, created_at=utcnow(), active=True
                )
            )
            store._audit(conn, actor, "user.add", {"name": name, "role": role})
            return "added"
        conn.execute(
            users.update().where(users.c.name == name).values(password_hash=password_hash, role=role, active=True)
        )
        store._audit(conn, actor, "user.reactivate", {"name": name, "role": role})
        return "reactivated"


def list_users(store: Store, *, include_inactive: bool = True) -> list[dict[str, Any]]:
    """Accounts by name: ``name``, ``role``, ``active``, ``created_at`` (never the hash)."""
    q = sa.select(users.c.name, users.c.role, users.c.active, users.c.created_at).order_by(users.c.name)
    if not include_inactive:
        q = q.where(users.c.active == sa.true())
    with store._read() as conn:
        return [
            {"name": r.name, "role": r.role, "active": bool(r.active), "created_at": r.created_at}
            for r in conn.execute(q)
        ]


@retrying
def deactivate_user(store: Store, name: str, *, actor: str) -> None:
    """Switch an account off (kept for the record); BadInput if there is no such active account."""
    name = (name or "").strip()
    with store._write() as conn:
        row = conn.execute(sa.select(users.c.active).where(users.c.name == name)).first()
        if row is None or not row.active:
            known = [
                r
                for r in conn.execute(
                    sa.select(users.c.name).where(users.c.active == sa.true()).order_by(users.c.name)
                ).scalars()
            ]
            hint = f"active users: {', '.join(known)}" if known else "there are no active users"
            raise BadInput(f"there is no active user '{name[:80]}'; {hint}.")
        conn.execute(users.update().where(users.c.name == name).values(active=False))
        store._audit(conn, actor, "user.deactivate", {"name": name})


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    """The active account ``name`` as ``{"name", "role"}``, or None."""
    with store._read() as conn:
        row = conn.execute(
            sa.select(users.c.name, users.c.role).where(users.c.name == name, users.c.active == sa.true())
        ).first()
    return None if row is None else {"name": row.name, "role": row.role}


@retrying
def verify(store: Store, name: str, password: str, *, address: str | None = None) -> dict[str, Any] | None:
    """Check a login: ``{"name", "role", "session"}`` if the password is right, else None.

    ``session`` is the id of the audit entry of this login (see :func:`session_user`). An unknown
    or deactivated name costs the same hashing time as a wrong password, so response times do not
    tell which names exist. Every attempt is audited with ``address`` (the client's), which
    :func:`login_lock` counts.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    name = (name or "").strip()
    valid_name = bool(NAME_PATTERN.fullmatch(name))
    hasher = _hasher()
    with store._read() as conn:
        row = (
            conn.execute(
                sa.select(users.c.name, users.c.role, users.c.password_hash).where(
                    users.c.name == name, users.c.active == sa.true()
                )
            ).first()
            if valid_name
            else None
        )
    ok = False
    if row is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        try:
            hasher.verify(_dummy_hash(), "not the password")
        except VerificationError:
            pass
    else:
        try:
            ok = hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    actor = name if valid_name else "(not a user name)"
    with store._write() as conn:
        if not ok:
            store._audit(conn, actor, LOGIN_FAILED, {"name": name if valid_name else None, "address": address})
            return None
        if hasher.check_needs_rehash(row.password_hash):
            conn.execute(users.update().where(users.c.name == name).values(password_hash=hasher.hash(password)))
        store._audit(conn, name, LOGIN, {"name": name, "address": address})
        session = conn.execute(sa.select(sa.func.max(audit.c.id))).scalar_one()  # writers queue: ours
    return {"name": row.name, "role": row.role, "session": int(session)}


def session_user(store: Store, name: str, session: Any) -> dict[str, Any] | None:
    """The active account ``name`` as ``{"name", "role"}`` if its session ``session`` (from
    :func:`verify`) is still open, else None."""
    if not isinstance(session, int) or isinstance(session, bool) or not isinstance(name, str):
        return None
    with store._read() as conn:
        row = conn.execute(
            sa.select(users.c.name, users.c.role).where(users.c.name == name, users.c.active == sa.true())
        ).first()
        if row is None:
            return None
        opened = conn.execute(sa.select(audit.c.actor).where(audit.c.id == session, audit.c.action == LOGIN)).first()
        if opened is None or opened.actor != name:
            return None
        later = conn.execute(
            sa.select(audit.c.action, audit.c.detail).where(
                audit.c.id > session, audit.c.action.in_((LOGOUT, *ACCOUNT_RESETS))
            )
        ).all()
    for action, detail in later:
        detail = detail if isinstance(detail, dict) else {}
        if detail.get("name") == name and (action != LOGOUT or detail.get("session") == session):
            return None
    return {"name": row.name, "role": row.role}


@retrying
def end_session(store: Store, name: str, session: int, *, address: str | None = None) -> None:
    """Log out: session ``session`` of ``name`` no longer counts (audited)."""
    with store._write() as conn:
        store._audit(conn, name, LOGOUT, {"name": name, "session": session, "address": address})


@dataclass(frozen=True)
class LoginLock:
    """Logins refused until ``until`` (naive UTC), for the account's or the address's failures."""

    scope: str  # "account" or "address"
    until: datetime

    def minutes_left(self, now: datetime) -> int:
        return max(1, math.ceil((self.until - now).total_seconds() / 60))

    def message(self, now: datetime) -> str:
        minutes = self.minutes_left(now)
        whose = "for this account" if self.scope == "account" else "from this address"
        return f"Too many failed logins {whose}; try again in {minutes} minute{'s' if minutes != 1 else ''}."


def login_lock(store: Store, name: str, address: str | None, *, now: datetime | None = None) -> LoginLock | None:
    """Whether a login as ``name`` from ``address`` is refused now for earlier failures, and until when.

    See the module's notes for the rule; ``now`` (naive UTC, default the clock) is for tests.
    """
    now = now or utcnow()
    name = (name or "").strip()
    with store._read() as conn:
        rows = conn.execute(
            sa.select(audit.c.at, audit.c.actor, audit.c.action, audit.c.detail)
            .where(
                audit.c.action.in_((LOGIN, LOGIN_FAILED)),
                audit.c.at >= now - FAILURE_MEMORY,
            )
            .order_by(audit.c.id)
        ).all()
    locks = []
    if NAME_PATTERN.fullmatch(name):
        locks.append(("account", ACCOUNT_FREE_FAILURES, lambda r: r.actor == name))
    if address:
        locks.append(
            (
                "address",
                ADDRESS_FREE_FAILURES,
                lambda r: isinstance(r.detail, dict) and r.detail.get("address") == address,
            )
        )
    for scope, free, concerns in locks:
        failures: list[datetime] = []
        for r in rows:
            if concerns(r):
                failures = [] if r.action == LOGIN else [*failures, r.at]
        extra = len(failures) - free
        if extra >= 0:
            until = failures[-1] + min(LONGEST_LOCK, FIRST_LOCK * 2 ** min(extra, 20))
            if now < until:
                return LoginLock(scope, until)
    return None


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
    "login_lock",
    "end_session",
    "session_user",
    "verify",
    "LoginLock",
]
