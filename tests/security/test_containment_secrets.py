"""Issue 10, attack 8: an env_variables value never reaches the model, whichever string agent code
puts it in, and the log shows exactly what was sent.

Before containment, a value passed into llm_query's instruction, data (its preview), schema or
model= reached the endpoint as it was, while the log showed `[redacted]` and so misstated what was
sent. Every request body the scripted server received is inspected here.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import fast_rlm
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log

SECRET = secrets.token_hex(16)  # random hex: no piece of it occurs in a prompt by chance
PIECE_CHARS = 8  # no run of this many of its characters may be sent
PREVIEW_CHARS = 300  # engine/agent_context.ts: how much of a child's data its first message shows
TRUNCATE_LEN = 2000  # the observation's length limit (truncate_len)

PASS_IT_ON = """
import os
secret = os.environ["SERVICE_TOKEN"]
answer = await llm_query(
    "data holding " + secret,
    "an instruction naming " + secret,
    schema={"type": "string", "description": "described by " + secret, "enum": ["fine", secret]},
    model="model-" + secret,
)
print("the child said", answer, "about", secret)
FINAL(answer)
"""


def _respond(root_code: str):
    def respond(request: dict[str, Any]) -> str:
        if "Answer the query held in `context`." in first_user_message(request):
            return repl(root_code)
        return repl("FINAL('fine')")

    return respond


def _pieces_sent(requests: list[dict[str, Any]]) -> list[str]:
    sent = json.dumps(requests)
    pieces = {SECRET[start : start + PIECE_CHARS] for start in range(len(SECRET) - PIECE_CHARS + 1)}
    return sorted(piece for piece in pieces if piece in sent)


def _calls_in_the_log(log: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, str]]]]:
    """(model, messages) of every request, rebuilt from the log's llm_call events."""
    calls = []
    history: dict[str, list[dict[str, str]]] = {}
    for event in events_of(log, "llm_call"):
        messages = history.setdefault(event["agent_id"], [])
        messages += event["new_messages"]
        calls.append((event["model"], [dict(message) for message in messages]))
        messages.append({"role": "assistant", "content": event["completion"]})
    return calls


def test_a_secret_in_any_part_of_llm_query_is_redacted_in_what_is_sent_and_logged(scripted_server):
    server = scripted_server(_respond(PASS_IT_ON))
    result = fast_rlm.run(
        "q", config=config_for(server, workers=1), env_variables={"SERVICE_TOKEN": SECRET}, verbosity=0
    )

    assert result["results"] == "fine"
    assert _pieces_sent(server.requests) == []
    child_request = next(request for request in server.requests if "model-" in request["model"])
    assert child_request["model"] == "model-[redacted]"
    child_prompt = json.dumps(child_request["messages"])
    for place in ("data holding [redacted]", "an instruction naming [redacted]", "described by [redacted]"):
        assert place in child_prompt, place
    # The log shows exactly what was sent: every request, message for message, and its model.
    sent = sorted((request["model"], request["messages"]) for request in server.requests)
    assert sorted(_calls_in_the_log(read_log(result["log_file"]))) == sent


STRADDLING = f"""
import os
secret = os.environ["SERVICE_TOKEN"]
# Each cut ({PREVIEW_CHARS} characters of preview, truncate_len of output) falls inside the secret.
padding = {PREVIEW_CHARS} - {PIECE_CHARS}
print("y" * ({TRUNCATE_LEN} - {PIECE_CHARS}) + secret)
answer = await llm_query("x" * padding + secret, "look at the data")
"""


def test_a_secret_cut_by_a_preview_or_truncation_leaks_no_piece_of_itself(scripted_server):
    """Redacting after cutting the text misses a secret the cut falls inside: its start goes out."""

    def respond(request: dict[str, Any]) -> str:
        if "look at the data" in first_user_message(request):
            return repl("FINAL('fine')")
        if len([m for m in request["messages"] if m["role"] == "assistant"]) == 0:
            return repl(STRADDLING)
        return repl("FINAL('done')")

    server = scripted_server(respond)
    fast_rlm.run(
        "q",
        config=config_for(server, workers=1, truncate_len=TRUNCATE_LEN),
        env_variables={"SERVICE_TOKEN": SECRET},
        verbosity=0,
    )

    child_requests = [r for r in server.requests if "look at the data" in first_user_message(r)]
    root_requests = [r for r in server.requests if r not in child_requests]
    assert len(child_requests) == 1 and len(root_requests) == 2
    leaked = {
        "the child's data preview": _pieces_sent(child_requests),
        "the root's truncated observation": _pieces_sent(root_requests),
    }
    assert {place: pieces for place, pieces in leaked.items() if pieces} == {}
