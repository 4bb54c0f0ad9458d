"""The facts compression must not lose: identifiers, numbers, paths and URLs.

One definition serves three users, so that what is protected is exactly what is measured:
the tool-output elider keeps lines holding items that later messages refer to, the
extractive summary lists the items of a folded turn, and the retention metric reports the
fraction of items that survive compression.

What counts as an item (each found as a whole token, never inside a longer word):

- ``url``: ``http://`` or ``https://`` up to whitespace or a closing quote/bracket, without
  trailing sentence punctuation;
- ``path``: a slash path (``/a/b``, ``~/a``, ``./a``, ``a/b.py``: a relative path needs a
  file extension on its last part or a trailing slash) or a file name with a common
  extension (``setup.py``, ``data.json``);
- ``identifier``: a code-like name of at least three characters holding an underscore, a
  digit or an inner capital (``snake_case``, ``camelCase``, ``ValueError``, ``call_fJ3x``),
  a dotted name whose parts have two or more characters (``os.path.join``,
  ``self.value``; not ``word.Next``, a missing space after a full stop), or a
  hexadecimal id of 7+ characters with both digits and letters (a commit hash);
- ``number``: a digit run of at least two digits, optionally with ``.``, ``,`` or ``:``
  groups (``1867``, ``0.25``, ``27.55.48``, ``12:30``); single digits are too common to
  be facts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

ItemKind = Literal["url", "path", "identifier", "number"]

_URL = re.compile(r"https?://[^\s<>\"'`\\)\]}|]+")
_URL_TRAILING = ".,;:!?"
_FILE_EXTENSIONS = frozenset(
    [
        "py",
        "pyi",
        "ipynb",
        "js",
        "mjs",
        "cjs",
        "jsx",
        "ts",
        "tsx",
        "json",
        "jsonl",
        "md",
        "rst",
        "txt",
        "yaml",
        "yml",
        "toml",
        "cfg",
        "ini",
        "conf",
        "env",
        "sh",
        "bash",
        "zsh",
        "ps1",
        "bat",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "cs",
        "rs",
        "go",
        "java",
        "kt",
        "scala",
        "rb",
        "php",
        "pl",
        "lua",
        "r",
        "swift",
        "m",
        "html",
        "htm",
        "css",
        "scss",
        "xml",
        "svg",
        "csv",
        "tsv",
        "log",
        "sql",
        "db",
        "sqlite",
        "lock",
        "gz",
        "tgz",
        "zip",
        "tar",
        "bz2",
        "xz",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "pdf",
        "docx",
        "xlsx",
        "pptx",
        "traj",
        "patch",
        "diff",
        "bin",
        "exe",
        "so",
        "dll",
        "wasm",
        "pem",
        "key",
    ]
)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(?:~|\.{1,2})?/[\w.@%+-]+(?:/[\w.@%+-]+)*/?")
_RELATIVE_PATH = re.compile(r"(?<![\w.:/~-])[\w.@%+-]+(?:/[\w.@%+-]+)+/?")
_DOTTED = re.compile(r"(?<![\w./-])[\w-]+(?:\.[\w-]+)+")
_WORD = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?![\w])")
_DIGIT_LEADING = re.compile(r"(?<![\w.])\d\w*(?:[.,:]\d+)*(?![\w])")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_HEX = re.compile(r"[0-9a-f]{7,64}")


def _is_code_word(word: str) -> bool:
    if len(word) < 3:
        return False
    if "." in word:  # a dotted name (os.path.join); "e.g" and "i.e" have one-letter parts
        parts = word.split(".")
        if len(parts) == 2 and parts[0].isalpha() and parts[1].istitle():
            return False  # "dump.Let": a sentence missing the space after its full stop
        return all(len(part) >= 2 for part in parts)
    if word.isalpha():  # letters only: code-like only with an inner capital (camelCase)
        return not (word.islower() or word.isupper() or word.istitle())
    return True  # holds a digit or an underscore


def _has_extension(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS


def _take_paths(chunks: list[str], items: dict[str, ItemKind]) -> None:
    """Record the paths among `chunks` into `items`; blank them out of `chunks` in place.

    Blanking keeps the parts of a path (`src`, `fields.py`) from counting again as
    identifiers or file names.
    """
    for index, chunk in enumerate(chunks):
        if "/" not in chunk and "." not in chunk:
            continue
        spans: list[tuple[int, int]] = []
        if "/" in chunk:
            spans.extend(match.span() for match in _ABSOLUTE_PATH.finditer(chunk))
            spans.extend(
                match.span()
                for match in _RELATIVE_PATH.finditer(chunk)
                if match.group().endswith("/") or _has_extension(match.group())
            )
        if "." in chunk:
            spans.extend(m.span() for m in _DOTTED.finditer(chunk) if _has_extension(m.group()))
        if not spans:
            continue
        spans.sort()
        kept: list[str] = []
        position = 0
        for start, end in spans:
            path = chunk[start:end]
            cleaned = path if path.endswith("..") else path.rstrip(".")
            if len(cleaned) > 1 and any(char.isalnum() for char in cleaned):
                items.setdefault(cleaned, "path")
            if start >= position:
                kept.append(chunk[position:start])
            position = max(position, end)
        kept.append(chunk[position:])
        chunks[index] = " ".join(kept)


def extract_items(text: str) -> dict[str, ItemKind]:
    """Every item in `text`, mapped to its kind (see the module docstring for the rules).

    Items never span whitespace and a plain word (all lower case, Title case or UPPER case
    letters) is never one, so the text is first cut at whitespace and plain words dropped:
    the patterns then see a small fraction of it (about 1 ms per 10k tokens in all).
    """
    items: dict[str, ItemKind] = {}
    chunks = [  # inlined: this filter runs once per word of every message
        chunk
        for chunk in text.split()
        if not (chunk.isalpha() and (chunk.islower() or chunk.istitle() or chunk.isupper()))
    ]
    if not chunks:
        return items
    for chunk in chunks:
        if "://" in chunk:
            for match in _URL.finditer(chunk):
                items.setdefault(match.group().rstrip(_URL_TRAILING), "url")
    if items:
        chunks = [_URL.sub(" ", chunk) if "://" in chunk else chunk for chunk in chunks]
    _take_paths(chunks, items)
    rest = "\n".join(chunks)
    for word in _WORD.findall(rest):
        if word not in items and _is_code_word(word):
            items[word] = "identifier"
    for token in _DIGIT_LEADING.findall(rest):
        if _NUMBER.fullmatch(token):
            if len(token) >= 2:  # starts and ends with a digit: two digits at least
                items.setdefault(token, "number")
        elif _HEX.fullmatch(token) and not token.isdigit():
            items.setdefault(token, "identifier")
    return items


@functools.lru_cache(maxsize=1024)
def items_in(text: str) -> Mapping[str, ItemKind]:
    """:func:`extract_items`, read-only and cached: the same message text is scanned once
    per process (a conversation resends its history on every call)."""
    return MappingProxyType(extract_items(text))


_ERROR_LINE = re.compile(
    r"(?i:(?<!no )\b(?:error|errors|exception|traceback|failed|failure|fatal|panic|denied|"
    r"refused|not found|no such file|cannot|can't|unable to|invalid|warning|assert\w*)\b)"
    r"|[a-z](?:Error|Exception|Warning)\b"  # ZeroDivisionError, IOException, UserWarning
)


def error_positions(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Where error or warning wording occurs in `text[start:end]` (one scan for many lines)."""
    stop = len(text) if end is None else end
    return [match.start() for match in _ERROR_LINE.finditer(text, start, stop)]


def is_error_line(line: str) -> bool:
    """True when a line of tool output reports an error or a warning (kept by the elider)."""
    return _ERROR_LINE.search(line) is not None
