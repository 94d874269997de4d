"""Sessions (issue 14 item 1): the root's REPL carries on from query to query, on disk across
processes, with a locked directory and typed errors for state that cannot be read."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError, SessionLockedError, SessionStateError
from fast_rlm.logs import cli as log_cli
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 120


def _by_query(replies: dict[str, list[str]]):
    """The n-th call of the root for the query whose context starts with a key gets its n-th reply."""

    def respond(request: dict[str, Any]) -> str:
        first = first_user_message(request)
        context_line = next(line for line in first.splitlines() if line.startswith("`context` holds"))
        for key, script in replies.items():
            if f'Start: "{key}' in context_line:
                return script[min(call_number(request), len(script)) - 1]
        raise AssertionError(f"no script for {context_line}")

    return respond


DEFINE = repl(
    "import math as m\n"
    "from collections import Counter\n"
    "class Point:\n"
    "    def __init__(self, x):\n"
    "        self.x = x\n"
    "\n"
    "def double(v):\n"
    "    return 2 * v\n"
    "\n"
    "total = double(21)\n"
    "points = [Point(3), Point(4)]\n"
    "counts = Counter('abca')\n"
    "numbers = (n for n in range(3))\n"
    "FINAL(total)"
)
USE = repl(
    "FINAL({'total': total, 'double': double(5), 'floor': m.floor(2.5), 'xs': [p.x for p in points],"
    " 'a': counts['a'], 'kept': type(points[0]).__name__, 'unrestored': session_unrestored,"
    " 'history': [h['query'] for h in session_history]})"
)


def test_variables_imports_functions_and_classes_carry_to_the_next_query(scripted_server, isolated_workdir):
    server = scripted_server(_by_query({"first": [DEFINE], "second": [USE]}))
    with fast_rlm.Session(config=config_for(server), verbosity=0) as session:
        assert session.query("first")["results"] == 42
        second = session.run("second")["results"]
    assert second["total"] == 42 and second["double"] == 10 and second["floor"] == 2
    assert second["xs"] == [3, 4] and second["a"] == 2 and second["kept"] == "Point"
    assert second["history"] == ["first"]
    assert second["unrestored"] == [
        "numbers (not saved: generator cannot be pickled (TypeError: cannot pickle 'generator' object))"
    ]
    # The agent is told the earlier query, its answer and its code, and what was not kept.
    told = first_user_message(server.requests[-1])
    assert "1. first\n   FINAL: 42" in told and "def double(v):" in told
    assert "numbers: generator cannot be pickled" in told
    assert "double (defined in the REPL)" in told and "m (module math)" in told


def test_an_ephemeral_session_removes_its_directory_on_close(scripted_server, isolated_workdir):
    server = scripted_server(_by_query({"first": [DEFINE]}))
    session = fast_rlm.Session(config=config_for(server), verbosity=0)
    directory = session.directory
    session.query("first")
    assert (directory / "namespace.json").exists() and session.variables()["total"]["preview"] == "42"
    session.close()
    assert not directory.exists()
    with pytest.raises(RuntimeError, match="Session is closed"):
        session.query("first")


def test_run_with_session_dir_is_one_query_of_that_session(scripted_server, isolated_workdir):
    server = scripted_server(_by_query({"first": [DEFINE], "second": [USE]}))
    config = config_for(server)
    fast_rlm.run("first", config=config, verbosity=0, session_dir="sessions", session_id="s1")
    result = fast_rlm.run("second", config=config, verbosity=0, session_dir="sessions", session_id="s1")
    assert result["results"]["total"] == 42
    ledger = json.loads((isolated_workdir / "sessions" / "s1" / "state.json").read_text())
    assert [q["status"] for q in ledger["queries"]] == ["done", "done"]
    assert ledger["queries"][1]["log_file"] == result["log_file"]
    with pytest.raises(ConfigError, match="session_id needs a session_dir"):
        fast_rlm.run("q", config=config, session_id="s1")


def test_fast_rlm_log_lists_a_session_dirs_runs(scripted_server, isolated_workdir, capsys):
    server = scripted_server(_by_query({"first": [DEFINE], "second": [USE]}))
    with fast_rlm.Session(session_dir="s", config=config_for(server), verbosity=0) as session:
        first = session.query("first")
        second = session.query("second")
    assert log_cli.main([str(isolated_workdir / "s")]) == 0
    listing = capsys.readouterr().out
    assert "2 queries" in listing and "[1] first" in listing and "FINAL: 42" in listing
    assert f"log: {first['log_file']}" in listing and f"log: {second['log_file']}" in listing
    tokens = first["usage"]["total_tokens"] + second["usage"]["total_tokens"]
    assert f"Total: {tokens:,} tokens" in listing


_HOLDER = """
import sys
import fast_rlm
from fast_rlm.logs import cli as log_cli
session = fast_rlm.Session(session_dir=sys.argv[1], config={"base_url": sys.argv[2], "api_key": "k"},
                           verbosity=0)
session.query("long")
"""


def test_a_killed_process_resumes_at_its_last_completed_step_and_holds_the_lock_meanwhile(
    scripted_server, isolated_workdir
):
    hanging = threading.Event()
    steps = [repl("x = 1"), repl("y = x + 1"), repl("import time\ntime.sleep(1000)")]

    def respond(request: dict[str, Any]) -> str:
        if 'Start: "long' in first_user_message(request):
            if call_number(request) == 3:
                hanging.set()
            return steps[min(call_number(request), 3) - 1]
        return repl("FINAL([x, y, 'z' in globals()])")

    server = scripted_server(respond)
    directory = isolated_workdir / "kept"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(directory), server.base_url],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert hanging.wait(DEADLINE_S)
        namespace = directory / "namespace.json"
        deadline = time.monotonic() + DEADLINE_S
        while not (namespace.exists() and json.loads(namespace.read_text())["step"] == 2):
            assert time.monotonic() < deadline, "the second step's state was never written"
        with pytest.raises(SessionLockedError, match=str(directory)):
            fast_rlm.Session(session_dir=directory)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with fast_rlm.Session(session_dir=directory, config=config_for(server), verbosity=0) as session:
        assert session.query("after")["results"] == [1, 2, False]
        statuses = [(q["query"], q["status"], q["steps"]) for q in session.queries()]
    assert statuses == [("long", "interrupted", 2), ("after", "done", 1)]
    assert "interrupted after 2 step(s)" in first_user_message(server.requests[-1])


def test_unreadable_state_is_a_typed_error_naming_the_file_and_leaves_it_as_it_was(
    scripted_server, isolated_workdir
):
    server = scripted_server(_by_query({"first": [DEFINE]}))
    with fast_rlm.Session(session_dir="s", config=config_for(server), verbosity=0) as session:
        session.query("first")
    namespace = isolated_workdir / "s" / "namespace.json"
    saved = json.loads(namespace.read_text())
    value_file = isolated_workdir / "s" / "values" / saved["state"]["variables"]["total"]["file"]
    good_value = value_file.read_bytes()
    value_file.write_text(base64.b64encode(b"\x80\x05garbage").decode())
    before = namespace.read_bytes(), value_file.read_bytes()
    with pytest.raises(SessionStateError, match=f"{value_file}.*'total' cannot be unpickled.*Move the file"):
        fast_rlm.Session(session_dir="s")
    assert (namespace.read_bytes(), value_file.read_bytes()) == before
    value_file.write_bytes(good_value)
    ledger = isolated_workdir / "s" / "state.json"
    ledger.write_text(json.dumps({"format": "fast-rlm-session", "version": 99, "queries": []}))
    with pytest.raises(SessionStateError, match="version 99"):
        fast_rlm.Session(session_dir="s")
    ledger.write_text("{not json")
    with pytest.raises(SessionStateError, match=f"Cannot read '{ledger}'"):
        fast_rlm.Session(session_dir="s")
    # The lock was let go each time: a good state opens.
    ledger.unlink()
    namespace.unlink()
    fast_rlm.Session(session_dir="s").close()


def test_cli_session_dir_carries_the_repl_between_invocations(scripted_server, isolated_workdir):
    server = scripted_server(_by_query({"first": [DEFINE], "second": [USE]}))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RLM_MODEL_BASE_URL": server.base_url,
        "RLM_MODEL_API_KEY": "k",
    }
    command = [sys.executable, "-m", "fast_rlm.cli.main", "-q", "--session-dir", "sd", "--session-id", "a"]
    first = subprocess.run([*command, "first"], env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*command, "second"], env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert json.loads(second.stdout)["total"] == 42
    lone_id = subprocess.run(
        [*command[:4], "--session-id", "a", "x"], env=env, capture_output=True, text=True
    )
    assert lone_id.returncode == 2 and "--session-id needs --session-dir" in lone_id.stderr


def test_interactive_session_at_a_terminal_survives_ctrl_c(scripted_server, isolated_workdir):
    started = threading.Event()
    replies = {
        "first": [DEFINE],
        "slow": [repl("import time\ntime.sleep(1000)")],
        "second": [USE],
    }
    responder = _by_query(replies)

    def respond(request: dict[str, Any]) -> str:
        if 'Start: "slow' in first_user_message(request):
            started.set()
        return responder(request)

    server = scripted_server(respond)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RLM_MODEL_BASE_URL": server.base_url,
        "RLM_MODEL_API_KEY": "k",
    }
    leader, follower = pty.openpty()
    shell = subprocess.Popen(
        [sys.executable, "-m", "fast_rlm.cli.main", "--verbosity", "silent"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,  # the pty becomes its terminal, so Ctrl-C there reaches it alone
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(follower)
    seen = bytearray()

    def read_until(marker: bytes) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while marker not in seen:
            assert time.monotonic() < deadline, f"no {marker!r} in {bytes(seen)!r}"
            seen.extend(os.read(leader, 4096))

    try:
        read_until(b"rlm> ")
        os.write(leader, b"first\n")
        read_until(b"42\r\nrlm> ")
        seen.clear()
        os.write(leader, b"slow\n")
        assert started.wait(DEADLINE_S)
        os.write(leader, b"\x03")  # Ctrl-C, as the terminal sends it
        read_until(b"rlm> ")
        assert b"cancelled; the session goes on" in seen
        seen.clear()
        os.write(leader, b"second\n")
        read_until(b"}\r\n")
        os.write(leader, b"\x04")  # Ctrl-D ends the session
        assert shell.wait(DEADLINE_S) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
        os.close(leader)
    answer_line = next(line for line in bytes(seen).decode().splitlines() if line.startswith("{"))
    answer = json.loads(answer_line)
    assert answer["total"] == 42 and answer["history"][:2] == ["first", "slow"]
