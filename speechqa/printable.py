"""Text as speechqa prints it: one line, nothing a terminal or a log reader would act on.

File names come from whoever drops files into the recordings folder. A name holding a newline
would forge a second log line ("... scored\n2026-11-22T03:00:00Z [7/9] other.wav scored"), one
holding ANSI escape codes would recolour, clear or retitle the operator's terminal, and bidi
controls reorder what is shown. Every message that can hold a name passes through `printable`
where it is printed or logged (the CLI, the progress lines, the batch's logging).
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Categories escaped: control characters (C0, DEL, C1: ESC starts every ANSI sequence), format
# characters (bidi overrides, zero-width marks), line and paragraph separators, and the lone
# surrogates os.fsdecode makes of bytes that are not UTF-8 (which no UTF-8 stream can print).
_ESCAPED = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def printable(text: str) -> str:
    """`text` with every control, format and separator character written as a Python escape
    (`\\n`, `\\x1b`, `\\u202e`; an undecodable byte of a file name as `\\xff`)."""
    if text.isprintable():   # the common case, and fast: no character to look at
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _ESCAPED else ch for ch in text)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:   # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
