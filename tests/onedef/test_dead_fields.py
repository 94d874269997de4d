"""Every field of the log reader's AgentRecord is read somewhere (the viewer, the renderers, the
stats): a field only ever written, like the removed result_preview and start_offset, fails here."""

import re
from dataclasses import fields
from pathlib import Path

import fast_rlm
from fast_rlm.logs.reader import AgentRecord


def test_every_agent_record_field_is_read():
    package = Path(fast_rlm.__file__).parent
    sources = [*package.rglob("*.py"), *(package.parent / "tui").rglob("*.py")]
    code = "\n".join(source.read_text() for source in sources)
    unread = []
    for field in fields(AgentRecord):
        # A read: the attribute not followed by an assignment (=, +=, ...), or passed on by keyword.
        read = re.compile(rf"\.{field.name}\b(?!\s*[-+*/|]?=[^=])|\b{field.name}=")
        if not read.search(code):
            unread.append(field.name)
    assert unread == []
