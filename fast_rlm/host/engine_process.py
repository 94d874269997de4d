"""Runs the Deno engine as a subprocess and speaks its protocol (engine/protocol.ts).

The engine gets the least Deno permissions that let it work: read on its own files and the cache,
write on the run's log file and the snapshot cache, net to the model's host:port only, no env, no
run. Its environment is built from scratch, so nothing of the user's (keys included) reaches it;
the API key travels in the start message instead.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from fast_rlm.errors import ENGINE_ERROR_TYPES, CancelledError, EngineCrashError, EngineStartError
from fast_rlm.host.deno_setup import deno_binary, deno_dir, deno_environment, offline_deno_run, snapshot_file
from fast_rlm.host.host_functions import HostFunctionRunner
from fast_rlm.host.protocol_messages import RunSetup, cancel_message, encoded, start_message
from fast_rlm.host.python_models import ModelRunner
from fast_rlm.host.python_packages import python_packages_file
from fast_rlm.host.resources import deno_config_file, deno_lock_file, engine_dir

STDERR_LINES_KEPT = 200
CANCEL_GRACE_S = 3.0
BYTES_PER_MB = 1024 * 1024
STDERR_LINE_CAP_BYTES = 64 * 1024
# The engine's longest honest line holds a FINAL value (max_value_mb of JSON) in an event; anything
# much longer means something is wrong, and it must not grow this process without bound.
LINE_CAP_VALUE_MULTIPLE = 8
LINE_CAP_OVERHEAD_BYTES = 64 * BYTES_PER_MB

EventCallback = Callable[[dict[str, Any]], None]


def engine_command(
    log_file: Path, net_hosts: list[str], run_commands: list[str], response_cache: str | None = None
) -> list[str]:
    """The engine may run the deno binary (its REPL processes) and the MCP stdio commands, and read
    and write the response cache's directory when there is one."""
    snapshots = snapshot_file().parent
    cache = [response_cache] if response_cache is not None else []
    run_commands = [deno_binary(), *run_commands]
    return [
        *offline_deno_run(),
        "--v8-flags=--max-semi-space-size=2",  # about 25 MB less at a fan-out of 1,000, no slower
        "--unstable-worker-options",
        f"--allow-read={','.join(map(str, [engine_dir(), deno_dir(), snapshots, *cache]))}",
        f"--allow-write={','.join(map(str, [log_file, snapshots, *cache]))}",
        # An empty --allow-net= would allow every host: with no host to reach, the flag is left out.
        *([f"--allow-net={','.join(net_hosts)}"] if net_hosts else []),
        f"--allow-run={','.join(run_commands)}",
        str(engine_dir() / "main.ts"),
    ]


def repl_launch_paths() -> dict[str, str]:
    """What the engine starts its REPL processes with (engine/repl/repl_process.ts, ReplLaunch)."""
    return {
        "deno_binary": deno_binary(),
        "config_file": str(deno_config_file()),
        "lock_file": str(deno_lock_file()),
        "deno_dir": str(deno_dir()),
        "python_packages_file": str(python_packages_file()),
    }


@contextmanager
def _ctrl_c_cancels(run: EngineRun) -> Iterator[None]:
    """In the main thread, Ctrl-C cancels the run by a handler instead of raising KeyboardInterrupt,
    which could land between reading an event and passing it on, and lose it (the live view would
    miss an agent, on_event an event). The engine then reports as for any cancel."""
    if (
        threading.current_thread() is not threading.main_thread()  # signals reach only the main thread
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # ignored, or the caller's own
    ):
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signal_number, frame: run.cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """The engine leads its own session: killing the group also ends any MCP stdio server it started
    that would outlive it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


_OVERSIZED_LINE = b"<oversized line>"


def _capped_lines(stream: IO[bytes], cap_bytes: int) -> Iterator[bytes]:
    """The stream's lines, each read with at most cap_bytes held; a longer line is skipped to its end
    and yielded as _OVERSIZED_LINE."""
    while True:
        line = stream.readline(cap_bytes + 1)
        if not line:
            return
        if len(line) <= cap_bytes or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(cap_bytes)
        yield _OVERSIZED_LINE


class EngineRun:
    """One engine process for one run: send the start message, stream events, return the result."""

    def __init__(
        self,
        setup: RunSetup,
        query: Any,
        log_file: Path,
        net_hosts: list[str],
        run_commands: list[str],
        host_functions: HostFunctionRunner,
        python_models: ModelRunner,
        on_session_state: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._on_session_state = on_session_state
        self._response_cache: str | None = setup.config.get("cache_dir")
        self._protocol_token = secrets.token_hex(16)
        # The query travels as a raw frame after the start line: UTF-8 text as it is, anything else
        # as JSON. A query of hundreds of MB then needs no escaping on either side.
        is_text = isinstance(query, str)
        # ASCII text is its own UTF-8, so its size is known without encoding it: the writer encodes it
        # after the start line has gone, while the engine starts its REPL processes (100 MB: 0.1 s).
        self._query: str | bytes = (
            query
            if is_text and query.isascii()
            else (query if is_text else json.dumps(query, ensure_ascii=False)).encode("utf-8")
        )
        frame = {"bytes": len(self._query), "is_text": is_text}
        self._line_cap_bytes = int(
            LINE_CAP_VALUE_MULTIPLE * setup.config["max_value_mb"] * BYTES_PER_MB + LINE_CAP_OVERHEAD_BYTES
        )
        self._start_line = encoded(start_message(setup, self._protocol_token, frame, repl_launch_paths()))
        self._log_file = log_file
        self._net_hosts = net_hosts
        self._run_commands = run_commands
        self._host_functions = host_functions
        self._python_models = python_models
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
        self._process: subprocess.Popen[bytes] | None = None
        self._stdin_lock = threading.Lock()
        self._cancel_requested = threading.Event()
        self._kill_timer: threading.Timer | None = None
        self.saw_run_end = False

    def execute(self, on_event: EventCallback) -> dict[str, Any]:
        try:
            process = subprocess.Popen(
                engine_command(self._log_file, self._net_hosts, self._run_commands, self._response_cache),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=deno_environment(),
                cwd=engine_dir(),
                # A terminal's Ctrl-C reaches only this process, which then cancels the engine in order
                # (closing the log, reporting partial results). If this process dies, the engine sees
                # its stdin close and stops by itself.
                start_new_session=True,
            )
        except OSError as error:
            raise EngineStartError(f"Cannot start the Deno engine: {error}") from None
        self._process = process
        if self._cancel_requested.is_set():
            self.cancel()  # cancelled while starting: arm the kill timer now that there is a process
        stderr_reader = threading.Thread(target=self._collect_stderr, args=(process,), daemon=True)
        stderr_reader.start()
        writer = threading.Thread(target=self._send_messages, args=(process,), daemon=True)
        writer.start()
        try:
            with _ctrl_c_cancels(self):
                return self._read_until_outcome(process, on_event)
        except KeyboardInterrupt:  # Ctrl-C before the handler was in place
            self.cancel()
            return self._read_until_outcome(process, on_event)
        finally:
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            self._host_functions.close()
            self._python_models.close()
            self._close(process)
            stderr_reader.join(timeout=1)

    def cancel(self) -> None:
        """Asks the engine to stop every agent and report; kills it if it has not within a grace period.
        Safe to call from any thread, before or during execute()."""
        self._cancel_requested.set()
        process = self._process
        if process is None:
            return  # execute() has not spawned the engine yet; its writer sends the cancel
        with self._stdin_lock:
            if self._kill_timer is None:
                self._kill_timer = threading.Timer(CANCEL_GRACE_S, _kill_process_group, (process,))
                self._kill_timer.daemon = True
                self._kill_timer.start()

    def _send_messages(self, process: subprocess.Popen[bytes]) -> None:
        """The start message, then a cancel if one is asked for: always in that order."""
        self._write(process, self._start_line)
        query, self._query = self._query, b""  # the engine has it next; do not hold it for the whole run
        self._write(process, query.encode("ascii") if isinstance(query, str) else query)
        del query
        self._cancel_requested.wait()
        self._write(process, encoded(cancel_message()))

    def _send_host_result(self, result: dict[str, Any]) -> None:
        if self._process is not None:
            self._write(self._process, encoded(result))

    def _write(self, process: subprocess.Popen[bytes], *chunks: bytes) -> None:
        with self._stdin_lock:
            if process.stdin is None or process.stdin.closed:
                return
            try:
                for chunk in chunks:
                    process.stdin.write(chunk)
                process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the engine is gone; the reader reports why

    def _collect_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in _capped_lines(process.stderr, STDERR_LINE_CAP_BYTES):
            self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip("\n"))

    def _read_until_outcome(
        self, process: subprocess.Popen[bytes], on_event: EventCallback
    ) -> dict[str, Any]:
        assert process.stdout is not None
        for line in _capped_lines(process.stdout, self._line_cap_bytes):
            if line is _OVERSIZED_LINE:
                _kill_process_group(process)
                raise EngineCrashError(
                    f"The engine sent a message over {self._line_cap_bytes // BYTES_PER_MB} MB "
                    f"({LINE_CAP_VALUE_MULTIPLE} x max_value_mb + "
                    f"{LINE_CAP_OVERHEAD_BYTES // BYTES_PER_MB} MB); it was stopped. "
                    "Raise max_value_mb if your results are that large.",
                    log_file=str(self._log_file),
                )
            message = self._authentic(line)
            if message is None:
                continue
            if message["type"] == "event":
                if message["event"]["event"] == "run_end":
                    self.saw_run_end = True
                on_event(message["event"])
            elif message["type"] == "host_call":
                self._host_functions.submit(message, self._send_host_result)
            elif message["type"] == "model_call":
                self._python_models.submit(message, self._send_host_result)
            elif message["type"] == "session_state" and self._on_session_state is not None:
                self._on_session_state(message)
            elif message["type"] == "result":
                return message
            elif message["type"] == "fatal":
                raise self._error_from(message)
        process.wait()
        if self._cancel_requested.is_set():
            raise CancelledError("The run was cancelled; the engine was stopped before it could report.")
        raise EngineCrashError(
            f"The engine exited (code {process.returncode}) without a result. Its last words:\n"
            + "\n".join(self._stderr_tail)
        )

    def _authentic(self, line: bytes) -> dict[str, Any] | None:
        """The engine's message on this line, or None for anything else that reached stdout."""
        try:
            message = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(message, dict) or message.get("token") != self._protocol_token:
            return None
        return message

    def _close(self, process: subprocess.Popen[bytes]) -> None:
        self._cancel_requested.set()  # releases the writer thread; the engine is done or dying
        with self._stdin_lock:
            try:
                if process.stdin:
                    process.stdin.close()
            except OSError:
                pass
        try:
            process.wait(timeout=CANCEL_GRACE_S)
        except subprocess.TimeoutExpired:
            _kill_process_group(process)
            process.wait()

    def _error_from(self, message: dict[str, Any]) -> Exception:
        error = message["error"]
        error_class = ENGINE_ERROR_TYPES.get(error["type"])
        text = error["message"]
        if error_class is None:  # tests/onedef/test_error_names.py keeps this from happening
            error_class, text = EngineCrashError, f"{error['type']} (unknown to this host): {text}"
        return error_class(
            text,
            partial_results=message.get("partial_results"),
            usage=message.get("usage"),
            log_file=str(self._log_file),
        )
