"""Rules for free text people type (sources, notes, reasons, scenario names) and for showing
stored text safely on a terminal.

Text is refused when it holds

- a NUL byte (PostgreSQL cannot store one, so SQLite and PostgreSQL answer alike);
- a C0 or C1 control character (U+0000–U+001F, U+007F–U+009F): escape sequences such as
  ``ESC ] 0 ; … BEL`` would retitle or clear the terminal of whoever lists the record. Multi-line
  text (notes, reasons, descriptions) may hold tabs and line breaks (a ``CR LF`` pair is kept as
  ``LF``); one-line text (sources, names) may not, nor the Unicode line and paragraph separators;
- a bidirectional-text override or isolate (U+202A–U+202E, U+2066–U+2069), which makes text
  display in another order than it is stored (the directional marks U+200E, U+200F and U+061C,
  which right-to-left writing needs, are allowed);
- a lone surrogate (bytes that were not UTF-8, carried through by the operating system);
- nothing visible: only spaces and invisible characters such as zero-width spaces;
- more characters than the field's limit.

:func:`printable` is the output side: it writes every character these rules refuse (except a
line break where one is allowed) as a visible escape (``\\x1b``, ``\\u202e``), for records stored
before the rules, or by other means.
"""

from __future__ import annotations

import unicodedata
from typing import Any

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_SEPARATORS = frozenset("\u2028\u2029")
# characters that show nothing although Unicode does not class them as spaces or format characters
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def _control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F


def _surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


def unsafe(ch: str, *, multiline: bool = False) -> bool:
    """Whether ``ch`` is refused in text (one-line, or ``multiline`` allowing tab and LF)."""
    if multiline and ch in "\t\n":
        return False
    return _control(ch) or ch in BIDI_CONTROLS or _surrogate(ch) or (not multiline and ch in LINE_SEPARATORS)


def describe(ch: str) -> str:
    """``U+001B (ESCAPE)``: a character as a message names it."""
    name = unicodedata.name(ch, "")
    if not name and _control(ch):
        name = {
            "\x00": "NUL",
            "\t": "TAB",
            "\n": "LINE FEED",
            "\r": "CARRIAGE RETURN",
            "\x1b": "ESCAPE",
            "\x07": "BELL",
            "\x7f": "DELETE",
        }.get(ch, "control character")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def visible(text: str) -> bool:
    """Whether ``text`` has at least one character that shows."""
    return any(
        unicodedata.category(ch) not in _INVISIBLE_CATEGORIES and ch not in BLANK_LETTERS and not ch.isspace()
        for ch in text
    )


def problem(text: str, *, multiline: bool = False, limit: int | None = None) -> str | None:
    """Why ``text`` is refused (a clause to follow a column's name), or ``None``."""
    for ch in text:
        if ch == "\x00":
            return "contains a NUL byte"
        if _surrogate(ch):
            return "is not valid UTF-8 text (it carries undecodable bytes)"
        if unsafe(ch, multiline=multiline):
            kind = (
                "bidirectional-text control"
                if ch in BIDI_CONTROLS
                else "line separator"
                if ch in LINE_SEPARATORS or ch in "\n\r"
                else "control character"
            )
            extra = "; use one line" if not multiline and kind == "line separator" else ""
            return f"contains the {kind} {describe(ch)}{extra}"
    if text.strip() and not visible(text):
        return "has no visible characters (only spaces or invisible characters such as zero-width spaces)"
    if limit is not None and len(text) > limit:
        return f"is {len(text):,} characters long, above the limit of {limit:,}"
    return None


def kind_of(value: Any) -> str:
    """A value's JSON kind as a message names it (``a boolean (true)``, ``an object``)."""
    if type(value).__name__ in ("bool", "bool_"):  # Python's and NumPy's booleans
        return f"a boolean ({str(bool(value)).lower()})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, (int, float)):
        return f"a number ({value:g})" if isinstance(value, float) else f"a number ({value})"
    return f"a {type(value).__name__}"


def clean(value: Any, *, multiline: bool = False, limit: int | None = None) -> str:
    """``value`` as stripped text that passes the rules; ValueError with the reason otherwise.

    ``None`` is empty text. In ``multiline`` text a ``CR LF`` line break becomes ``LF``.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{kind_of(value)} is not text")
    text = value.replace("\r\n", "\n") if multiline else value
    reason = problem(text, multiline=multiline, limit=limit)
    if reason is not None:
        raise ValueError(reason)
    return text.strip()


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every refused character written as a visible escape (``\\x1b``, ``\\u202e``)."""
    if not any(unsafe(ch, multiline=multiline) for ch in text):
        return text
    out = []
    for ch in text:
        if not unsafe(ch, multiline=multiline):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


__all__ = ["BIDI_CONTROLS", "clean", "describe", "kind_of", "printable", "problem", "unsafe", "visible"]
