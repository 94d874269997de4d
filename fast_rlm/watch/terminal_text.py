"""Text from agent code or a model, made safe to show on a terminal.

Agent code and models can put terminal control sequences in anything they write (printed output,
instructions, results, errors, completions): an OSC 52 sequence writes the user's clipboard, `ESC
[2J` clears the screen, `\\r` overwrites a line, bidi overrides reorder what is read. Every view that
shows such text (the live tree, the line printer, `fast-rlm-log`, the viewer) passes it through
`printable` first.

Nothing is deleted silently, so a reader sees that something was there: C0 controls and DEL become
their Unicode Control Pictures (ESC shows as ␛, so `ESC [2J` reads `␛[2J`; CR as ␍, BEL as ␇), and
C1 controls, bidi controls, line and paragraph separators and lone surrogates become `⟨U+202E⟩`.
Newline and tab stay. With its introducer made visible, no escape sequence (CSI, OSC, DCS, ...) can
start, whatever follows it, so no parser of sequence ends is needed.

`printable_fields` applies it to every string inside a log event or record: a view that shows those
covers fields added later by default.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

from pydantic import BaseModel

_CONTROL_PICTURES = 0x2400  # ␀ is U+2400, ␛ U+241B: the picture of C0 control c is U+2400 + c
_DELETE_PICTURE = "␡"
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline; DEL; C1 (0x9b is CSI on its own)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators: line breaks to some renderers, not to others
    "\ud800-\udfff]"  # lone surrogates: a UTF-8 stream cannot encode them, so printing one raises
)

Value = TypeVar("Value")


def printable(text: str) -> str:
    """`text` with every character that could control a terminal replaced by a visible stand-in."""
    if not _UNSAFE.search(text):
        return text
    # A Windows line end is a line end, not an overwrite.
    return _UNSAFE.sub(_stand_in, text.replace("\r\n", "\n"))


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(_CONTROL_PICTURES + code)
    if code == 0x7F:
        return _DELETE_PICTURE
    return f"⟨U+{code:04X}⟩"


def printable_fields(value: Value) -> Value:
    """A copy of `value` with `printable` applied to every string in it: inside pydantic models
    (only the fields that were set, so `model_fields_set` still tells what the log held),
    dataclasses, lists and dicts. Other values are returned as they are."""
    shown: Any
    if isinstance(value, str):
        shown = printable(value)
    elif isinstance(value, BaseModel):
        shown = value.model_copy(
            update={name: printable_fields(getattr(value, name)) for name in value.model_fields_set}
        )
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        shown = dataclasses.replace(
            value,
            **{
                field.name: printable_fields(getattr(value, field.name))
                for field in dataclasses.fields(value)
                if field.init
            },
        )
    elif isinstance(value, list):
        shown = [printable_fields(item) for item in value]
    elif isinstance(value, dict):
        shown = {printable_fields(key): printable_fields(item) for key, item in value.items()}
    else:
        shown = value
    return shown
