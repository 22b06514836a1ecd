"""Who may use `tunesmith ui --review`: users with a role, argon2id password hashes, and login sessions.

Users live in `.tunesmith/ui-users.json` beside the project's artifacts (owner-only, and a `.gitignore` in that
folder keeps it out of any repository), written through the artifact layer. A password is stored only as its
argon2id hash (argon2-cffi, the OWASP recommendation); an unknown name costs the same hash as a wrong password, so
timing does not say which names exist.

Sessions are kept in memory: a random token in an HttpOnly, SameSite=Strict cookie, and per session a CSRF token
that every write must send back as `X-CSRF-Token`. Restarting the dashboard logs everyone out.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tunesmith.artifacts import dumps, write_bytes_atomic, write_text_atomic
from tunesmith.config import Config
from tunesmith.errors import ConfigError

Role = Literal["viewer", "reviewer", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
WRITERS = frozenset({"reviewer", "admin"})
MIN_PASSWORD = 8
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
COOKIE = "tunesmith_session"
MAX_FAILURES = 10  # wrong passwords for one name within FAILURE_WINDOW_S, then that name is refused a while
FAILURE_WINDOW_S = 300.0

_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_hex(16))  # verified against when the name is unknown


def users_path(cfg: Config) -> Path:
    """Where the project's dashboard users are kept: never in the repository, never in an artifact directory."""
    return cfg.artifacts_dir.parent / ".tunesmith" / "ui-users.json"


@dataclass(frozen=True)
class User:
    name: str
    role: str


class Users:
    """The users file of one project."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        try:
            users = json.loads(self.path.read_text(encoding="utf-8")).get("users", [])
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"cannot read the dashboard's users from {self.path}", file=self.path) from None
        return [u for u in users if isinstance(u, dict)]

    def _write(self, users: list[dict[str, Any]]) -> None:
        ignore = self.path.parent / ".gitignore"
        if not ignore.exists():
            write_text_atomic(ignore, "# tunesmith's keys and users: never commit them\n*\n")
        write_bytes_atomic(self.path, (dumps({"users": users}, indent=2) + "\n").encode("utf-8"), mode=0o600)

    def list(self) -> list[User]:
        return [User(u["name"], u["role"]) for u in self._read()]

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME.match(name):
            raise ConfigError(
                f"invalid user name {name!r}", hint="letters, digits and _ . @ -, starting with a letter or digit"
            )
        if role not in ROLES:
            raise ConfigError(f"invalid role {role!r}", hint=f"one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ConfigError(f"the password is shorter than {MIN_PASSWORD} characters", hint="choose a longer one")
        users = self._read()
        if any(u["name"] == name for u in users):
            raise ConfigError(
                f"user {name} exists", hint=f"`tunesmith ui user remove {name}` first to change the role or password"
            )
        created = datetime.now(UTC).isoformat()
        users.append({"name": name, "role": role, "hash": _hasher.hash(password), "created_at": created})
        self._write(users)
        return User(name, role)

    def remove(self, name: str) -> bool:
        users = self._read()
        kept = [u for u in users if u["name"] != name]
        if len(kept) != len(users):
            self._write(kept)
        return len(kept) != len(users)

    def verify(self, name: str, password: str) -> User | None:
        """The user, when `password` is theirs; None otherwise (after the same work either way)."""
        record = next((u for u in self._read() if u.get("name") == name), None)
        try:
            _hasher.verify(record["hash"] if record else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(record["name"], record["role"]) if record else None


@dataclass
class Session:
    user: User
    csrf: str
    expires: float  # time.monotonic()


class Sessions:
    """Login sessions in memory, and the recent failed logins per name."""

    def __init__(self, hours: float) -> None:
        self.lifetime = hours * 3600
        self._by_token: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def start(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), time.monotonic() + self.lifetime)
        with self._lock:
            self._by_token[token] = session
            self._failures.pop(user.name, None)
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is not None and session.expires < time.monotonic():
                del self._by_token[token]
                return None
        return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)

    def locked_out(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < FAILURE_WINDOW_S]
            self._failures[name] = recent
        return len(recent) >= MAX_FAILURES

    def failed(self, name: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # names are the client's to choose: keep the table bounded
                self._failures.clear()
            self._failures.setdefault(name, []).append(time.monotonic())


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and secrets.compare_digest(session.csrf.encode(), sent.encode())
