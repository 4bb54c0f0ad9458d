"""Ledger locations as URLs: a file path or `sqlite:///...` (the default), or `postgresql://...`.

Parsing is pure (no driver imported, nothing opened), so configuration validation, the CLI
and the API refuse a bad location before anything is created, with an error naming the
field. :class:`LedgerURL` never shows a password: `str()` and :meth:`LedgerURL.redacted`
hide it, and only :attr:`LedgerURL.dsn` (handed to the driver) carries it.

Accepted forms:

* a path (`~/ledger.db`, `/data/ledger.db`, `ledger.db`), or `sqlite:///relative/or/abs`
  (`sqlite:////abs/path` and `sqlite:///:memory:` too);
* `postgresql://user:password@host:5432/dbname?sslmode=require` (`postgres://` is the same);
  a unix-socket directory goes in `?host=/run/postgresql`.

Anything else (`mysql://...`, `http://...`, a URL with a bad port or no database) is a
ConfigError naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from agent_routing.errors import ConfigError

Scheme = Literal["sqlite", "postgresql"]

SCHEME_ALIASES: dict[str, Scheme] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}
"""URL scheme -> backend name (the registry maps the backend name to its class)."""

_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_ALLOWED = "a file path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME"


@dataclass(frozen=True, slots=True)
class LedgerURL:
    """A parsed ledger location. `path` is set for SQLite, `dsn` for PostgreSQL."""

    scheme: Scheme
    path: Path | None = None
    dsn: str = field(default="", repr=False)
    display: str = ""

    def redacted(self) -> str:
        """The location as a user may see it: the path, or the URL without its password."""
        return self.display

    def __str__(self) -> str:
        return self.display

    @property
    def key(self) -> str:
        """What identifies one ledger within a process (one writer per key)."""
        if self.path is not None:
            return f"sqlite:{self.path}"
        return self.dsn


def is_url(value: str) -> bool:
    """Whether `value` looks like `scheme://...` rather than a plain path."""
    return bool(_URL_LIKE.match(value))


def sqlite_url(path: Path | str) -> LedgerURL:
    """The SQLite ledger at `path` (`":memory:"` kept as is)."""
    if str(path) == ":memory:":
        return LedgerURL("sqlite", Path(":memory:"), display=":memory:")
    resolved = Path(path).expanduser()
    return LedgerURL("sqlite", resolved, display=str(resolved))


def parse_ledger_url(value: str | Path, field: str = "ledger.url") -> LedgerURL:
    """Parse a ledger location; ConfigError naming `field` when it is not one we can open."""
    if isinstance(value, Path):
        return sqlite_url(value)
    if not isinstance(value, str):
        raise ConfigError.single(field, f"must be {_ALLOWED} (got {type(value).__name__})")
    text = value.strip()
    if not text:
        raise ConfigError.single(field, f"must not be empty; use {_ALLOWED}")
    if not is_url(text):
        if "\x00" in text:
            raise ConfigError.single(field, "a path cannot contain a NUL character")
        return sqlite_url(text)
    scheme_text = text.split("://", 1)[0].lower()
    scheme = SCHEME_ALIASES.get(scheme_text.removesuffix("+psycopg"))
    if scheme is None:
        raise ConfigError.single(
            field,
            f"unsupported ledger URL scheme {scheme_text!r}: use {_ALLOWED} (got {redact(text)!r})",
        )
    if scheme == "sqlite":
        rest = text.split("://", 1)[1]
        if not rest.startswith("/"):
            raise ConfigError.single(
                field, f"a SQLite URL is sqlite:///PATH, three slashes (got {text!r})"
            )
        path = unquote(rest[1:].split("?", 1)[0])
        if not path:
            raise ConfigError.single(field, f"a SQLite URL needs a file path (got {text!r})")
        return sqlite_url(path)
    return _postgres_url(text, field)


def _postgres_url(text: str, field: str) -> LedgerURL:
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
        hostname = parts.hostname
        query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    except ValueError as error:
        raise ConfigError.single(
            field, f"malformed PostgreSQL URL {redact(text)!r}: {error}"
        ) from None
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ConfigError.single(
            field,
            f"a PostgreSQL URL must name one database, postgresql://HOST/DBNAME "
            f"(got {redact(text)!r})",
        )
    if not hostname and not query.get("host"):
        raise ConfigError.single(
            field,
            f"a PostgreSQL URL must name a host (postgresql://HOST/DBNAME, or ?host=/socket/dir) "
            f"(got {redact(text)!r})",
        )
    if port is not None and port == 0:
        raise ConfigError.single(field, f"port must be 1-65535 (got {redact(text)!r})")
    # libpq understands postgresql:// itself; normalise the scheme (postgres://, +psycopg)
    dsn = "postgresql://" + text.split("://", 1)[1]
    return LedgerURL("postgresql", None, dsn=dsn, display=redact(dsn))


def redact(url: str) -> str:
    """`url` without its password (in the netloc and in a `password=` query parameter)."""
    if not is_url(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostpart = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostpart}" if ":" in userinfo else f"{user}@{hostpart}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{key}={'***' if key.lower() == 'password' else quote(val, safe='/')}"
            for key, val in pairs
        )
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
    return f"{rebuilt}?{query}" if query else rebuilt
