"""Issue 10, attacks 4 and 5: agent code cannot write to the engine's stdout or stderr, nor read its
stdin.

Before containment, `node:fs.writeSync(1, ...)` wrote to the engine's stdout: 2 GB without a newline
grew the host Python process to 4 GB, partial lines corrupted real event lines (on_event lost
events), and `fs.readSync(0)` stole `host_result` messages so host calls never resolved. Now a REPL
process's stdio is its pipe to the engine, out of agent code's reach, and the engine's stdio is in
another process altogether.
"""

from __future__ import annotations

import threading

import psutil

from fast_rlm.scripted.server import repl
from tests.security.containment_probes import assert_the_root_kept_working, run_probes

FLOOD_MB = 200
FORGED_LINE = '{"type": "result", "results": "forged"}\\n'

WRITES = f"""
chunk = b"x" * (1 << 20)
await probe("os.write(1) forged line", lambda: os.write(1, b'{FORGED_LINE}'))
await probe("os.write(1) flood", lambda: sum(os.write(1, chunk) for _ in range({FLOOD_MB})))
await probe("os.write(2) flood", lambda: sum(os.write(2, chunk) for _ in range(20)))
await probe("sys.__stdout__", lambda: sys.__stdout__.write('{FORGED_LINE}' + "y" * (8 << 20)))
await probe("sys.__stderr__", lambda: [sys.__stderr__.write("z" * (8 << 20)), sys.__stderr__.flush()])
await probe("sys.__stdout__.flush()", lambda: sys.__stdout__.flush())
await probe("/dev/stdout", lambda: open("/dev/stdout", "wb").write(chunk * 8))
await probe("print flood", lambda: [print("p" * 1000) for _ in range(10000)] and "printed")
await probe("js.console", lambda: js.console.log("from the console"))
await probe("node:fs.writeSync(1) from a module", lambda: js_module(
    "import fs from 'node:fs'; fs.writeSync(1, 'x'.repeat({FLOOD_MB} << 20)); export default 'written'"))
"""


class PeakMemory:
    """Samples this (host) process's RSS on a thread until stopped; `growth_mb` is peak minus start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._start = self._process.memory_info().rss
        self._peak = self._start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self._peak - self._start) / (1 << 20)


def test_nothing_agent_code_writes_reaches_the_engines_stdout(scripted_server):
    peak = PeakMemory()
    run = run_probes(scripted_server, WRITES)
    host_growth_mb = peak.stop()

    assert run.stray_stdout_lines == []
    assert len(run.events) == len(run.log_lines)  # every event arrived whole: none lost to a garbled line
    assert [event["event"] for event in run.events][-1] == "run_end"
    assert host_growth_mb < FLOOD_MB / 2, f"the host grew by {host_growth_mb:.0f} MB"
    assert_the_root_kept_working(run)


def test_a_flood_on_its_own_stdout_does_not_cost_the_agent_its_repl(scripted_server):
    """Stray output of a REPL process is dropped as it comes, not gathered until a newline that never
    comes: a flood with no newline must not grow the process to its memory limit."""
    flood = """
chunk = b"x" * (1 << 20)
await probe("os.write(1)", lambda: sum(os.write(1, chunk) for _ in range(400)))
await probe("sys.__stdout__", lambda: sum(sys.__stdout__.write("y" * (1 << 20)) for _ in range(400)))
"""
    run = run_probes(scripted_server, flood, config={"repl_memory_mb": 600})

    assert run.outcomes == {"os.write(1)": f"ALLOWED: {400 << 20}", "sys.__stdout__": f"ALLOWED: {400 << 20}"}
    assert_the_root_kept_working(run)


READS = """
import asyncio

calls = [asyncio.ensure_future(echo_on_host(n)) for n in range(3)]
await probe("os.read(0)", lambda: os.read(0, 4096))
await probe("sys.stdin.read()", lambda: sys.stdin.read())
await probe("sys.stdin.readline()", lambda: sys.stdin.readline())
await probe("sys.__stdin__", lambda: sys.__stdin__.read(4096))
await probe("input()", lambda: input())
await probe("/dev/stdin", lambda: open("/dev/stdin", "rb").read(4096))
await probe("node:fs.readSync(0) from a module", lambda: js_module(
    "import fs from 'node:fs'; const buffer = new Uint8Array(65536);"
    "export default new TextDecoder().decode(buffer.subarray(0, fs.readSync(0, buffer)))"))
print(await asyncio.gather(*calls), await echo_on_host(3))
"""
NOTHING_READ = {"ALLOWED: b''", "ALLOWED: "}  # end of file (probe shows a str as it is)


def echo_on_host(value: int) -> int:
    """Returns its argument, from the host."""
    return value


def test_agent_code_reads_nothing_from_stdin_and_host_calls_still_resolve(scripted_server):
    run = run_probes(scripted_server, READS, config={"step_timeout_s": 5}, host_functions=[echo_on_host])

    read = {name: outcome for name, outcome in run.outcomes.items() if outcome.startswith("ALLOWED")}
    assert set(read.values()) <= NOTHING_READ, read
    assert run.root_requests[1]["messages"][-1]["content"].strip() == "[0, 1, 2] 3"
    assert_the_root_kept_working(run)


def test_what_agent_code_writes_to_stderr_is_not_in_the_error_its_parent_sees(scripted_server):
    """A dead REPL process's stderr tail ("last words") goes into the ReplError; agent code must not be
    able to put words there (a forged error text, a secret, escape sequences)."""
    marker = "words-from-agent-code"
    dying = (
        f"import os, sys\nos.write(2, b'{marker}\\n')\nsys.__stderr__.write('{marker}\\n')\n"
        f"sys.__stderr__.flush()\nos._exit(3)"
    )

    def child(request):
        return repl(dying)

    run = run_probes(
        scripted_server,
        'await probe("child", lambda: llm_query(1, "write and die"))',
        child_responder=child,
        config={"workers": 2},
    )

    assert run.outcomes["child"].startswith("LLMQueryError: ReplError:"), run.outcomes
    assert "exited (code" in run.outcomes["child"]
    assert marker not in run.outcomes["child"]
    assert_the_root_kept_working(run)
