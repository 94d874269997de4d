"""The host's messages to the engine are built in one module (fast_rlm/host/protocol_messages.py),
each with the fields of its type in engine/protocol.ts; no other module of the package spells one."""

import re
from dataclasses import fields
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.host import protocol_messages as messages
from tests.onedef.engine_source import engine_text, type_fields

_SETUP = messages.RunSetup(**{field.name: None for field in fields(messages.RunSetup)})
_BUILT = {
    "StartMessage": [messages.start_message(_SETUP, "token", {"bytes": 0, "is_text": True}, {})],
    "CancelMessage": [messages.cancel_message()],
    "HostResultMessage": [messages.host_result(1, [1]), messages.host_failure(1, KeyError("k"))],
    "ModelResultMessage": [messages.model_result(1, "text", None), messages.model_failure(1, ValueError())],
}


@pytest.mark.parametrize("type_name", sorted(_BUILT))
def test_each_message_has_the_fields_of_its_typescript_type(type_name):
    declared = type_fields("protocol.ts", type_name)
    required = {name for name in declared if not name.endswith("?")}
    every = {name.rstrip("?") for name in declared}
    for message in _BUILT[type_name]:
        assert required <= set(message) <= every, (type_name, sorted(message))
        assert declared["type"] == f'"{message["type"]}"'


def test_every_host_message_type_has_a_builder_here():
    declared = re.search(r"export type HostMessage = ([^;]+);", engine_text("protocol.ts"))
    assert declared is not None
    assert sorted(part.strip() for part in declared.group(1).split("|")) == sorted(_BUILT)


def test_no_other_module_spells_a_host_message():
    package = Path(fast_rlm.__file__).parent
    spelled = re.compile(r"""["'](type)["']\s*:\s*["'](start|cancel|host_result|model_result)["']""")
    elsewhere = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "protocol_messages.py" and spelled.search(path.read_text())
    ]
    assert elsewhere == []
