"""run(replay=LOG): a run again from its log's recorded replies, with no endpoint and no key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import RecordingError, ReplayMismatchError
from tests.conftest import config_for, events_of, read_log
from tests.sessions.replay_scenarios import SquaresModel, squares

WEATHER = {"today": "sunny"}


def weather() -> str:
    """Today's weather."""
    return WEATHER["today"]


def _recorded_run(scripted_server, children: int = 4) -> dict:
    server = scripted_server(SquaresModel(children))
    result = fast_rlm.run("square them", config=config_for(server), verbosity=0)
    server.stop()  # nothing may answer a replay
    return result


def test_replay_reruns_the_recorded_replies_with_no_endpoint_and_no_key(scripted_server):
    recorded = _recorded_run(scripted_server)

    replayed = fast_rlm.run(replay=recorded["log_file"], verbosity=0)

    assert replayed["results"] == recorded["results"] == squares(4)
    assert replayed["log_file"] != recorded["log_file"]
    usage = replayed["usage"]
    assert usage["replayed_calls"] == usage["llm_calls"] == 6  # root twice, four helpers
    assert usage["prompt_tokens"] == recorded["usage"]["prompt_tokens"]  # what the recording cost
    log = read_log(replayed["log_file"])
    assert log[0]["query"] == "square them"
    assert all(call["replayed"] and call["attempts"] == 0 for call in events_of(log, "llm_call"))
    steps = [(step["agent_id"], step["stdout"]) for step in events_of(log, "code_step")]
    assert ("root", "14\n") in steps  # the code ran again: its output is this run's


def test_run_start_records_what_a_replay_needs(scripted_server):
    server = scripted_server(lambda request: "```repl\nFINAL(1)\n```")
    result = fast_rlm.run(
        {"numbers": [1, 2]},
        config=config_for(server),
        instruction="square them",
        llm_kwargs={"temperature": 0.5},
        verbosity=0,
    )
    start = read_log(result["log_file"])[0]
    assert start["query"] == {"numbers": [1, 2]}
    assert len(start["query_sha256"]) == 64
    assert start["instruction"] == "square them" and start["mode"] == "repl"
    assert start["llm_kwargs"]["run"] == {"temperature": 0.5}
    assert "resumed_from" not in start and "forked_from" not in start


def test_a_request_the_recording_lacks_is_a_mismatch_naming_agent_and_call(scripted_server, tmp_path):
    recorded = _recorded_run(scripted_server)
    log = Path(recorded["log_file"]).read_text().splitlines()
    last_root_call = max(
        index for index, line in enumerate(log) if '"llm_call"' in line and '"agent_id":"root"' in line
    )
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(log[:last_root_call]) + "\n")

    with pytest.raises(ReplayMismatchError) as raised:
        fast_rlm.run(replay=cut, verbosity=0)

    message = str(raised.value)
    assert "agent root, model call 2 (after its code step 1)" in message
    assert "no reply" in message and str(cut) in message


def test_a_request_that_differs_from_the_recorded_one_is_a_mismatch(scripted_server):
    def respond(request):
        first = len(request["messages"]) < 3
        return "```repl\nprint('it is', await weather())\n```" if first else "```repl\nFINAL(1)\n```"

    server = scripted_server(respond)
    recorded = fast_rlm.run("q", config=config_for(server), host_functions=[weather], verbosity=0)
    server.stop()

    WEATHER["today"] = "rainy"  # the same prompt; the code's output differs
    try:
        with pytest.raises(ReplayMismatchError) as raised:
            fast_rlm.run(replay=recorded["log_file"], host_functions=[weather], verbosity=0)
    finally:
        WEATHER["today"] = "sunny"
    message = str(raised.value)
    assert "agent root, model call 2 (after its code step 1)" in message
    assert "it is rainy" in message and "it is sunny" in message


def test_a_replay_keeps_the_given_query_only_if_it_is_the_recorded_one(scripted_server):
    recorded = _recorded_run(scripted_server, children=2)
    assert fast_rlm.run("square them", replay=recorded["log_file"], verbosity=0)["results"] == squares(2)
    with pytest.raises(RecordingError, match="differs from the one"):
        fast_rlm.run("something else", replay=recorded["log_file"], verbosity=0)


def test_a_file_that_is_not_a_log_is_refused_naming_it(tmp_path):
    not_a_log = tmp_path / "notes.txt"
    not_a_log.write_text("hello\nworld\n")
    with pytest.raises(RecordingError, match="notes.txt, line 1, is not JSON"):
        fast_rlm.run(replay=not_a_log, verbosity=0)
    other_json = tmp_path / "other.jsonl"
    other_json.write_text('{"v": 1, "event": "agent_start"}\n')
    with pytest.raises(RecordingError, match="does not start with a run_start"):
        fast_rlm.run(replay=other_json, verbosity=0)
    with pytest.raises(RecordingError, match="Cannot read the log"):
        fast_rlm.run(replay=tmp_path / "missing.jsonl", verbosity=0)


def test_a_log_of_another_schema_version_is_refused(scripted_server, tmp_path):
    recorded = _recorded_run(scripted_server, children=1)
    events = read_log(recorded["log_file"])
    events[0]["v"] = 2
    newer = tmp_path / "newer.jsonl"
    newer.write_text("\n".join(json.dumps(event) for event in events) + "\n")
    with pytest.raises(RecordingError, match="schema version 2; this fast-rlm reads version 1"):
        fast_rlm.run(replay=newer, verbosity=0)


def test_a_log_without_the_root_exchanges_or_the_query_is_refused(scripted_server, tmp_path):
    recorded = _recorded_run(scripted_server, children=1)
    events = read_log(recorded["log_file"])
    no_root = tmp_path / "no_root.jsonl"
    no_root.write_text(
        "\n".join(
            json.dumps(event)
            for event in events
            if not (event["event"] == "llm_call" and event["agent_id"] == "root")
        )
        + "\n"
    )
    with pytest.raises(RecordingError, match="no model exchange of the root agent"):
        fast_rlm.run(replay=no_root, verbosity=0)

    del events[0]["query_sha256"], events[0]["query"]
    older = tmp_path / "older.jsonl"
    older.write_text("\n".join(json.dumps(event) for event in events) + "\n")
    with pytest.raises(RecordingError, match="did not record the query"):
        fast_rlm.run(replay=older, verbosity=0)
