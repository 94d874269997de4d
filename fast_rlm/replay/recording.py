"""A run's log read as a recording: what replay, resume and fork run again, and the replies they
serve in place of the model (engine/recorded_replies.ts).

Only what a later run needs is kept: the run_start line, each agent's llm_call lines (raw, as the
engine compares them), and the agents' starts and code steps (for fork's choices).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fast_rlm.errors import ForkPointError, RecordingError
from fast_rlm.events import LOG_SCHEMA_VERSION

# What the engine compares and replays of a recorded llm_call (RecordedCall in recorded_replies.ts).
_REPLAYED_FIELDS = ("new_messages", "completion", "reasoning", "finish_reason", "usage")


@dataclass
class AgentHistory:
    """One agent as the log holds it, for fork: its code steps, and which call ran each."""

    call_of_step: dict[int, int] = field(default_factory=dict)
    final_call: int | None = None  # the call whose code gave the agent's FINAL value
    started_at_line: int = 0


@dataclass
class Recording:
    path: Path
    run_start: dict[str, Any]
    calls: dict[str, dict[int, dict[str, Any]]]  # agent id -> call number -> its llm_call line
    agents: dict[str, AgentHistory]
    call_lines: dict[tuple[str, int], int]  # (agent id, call) -> its line number

    @classmethod
    def read(cls, path: str | Path) -> Recording:
        path = Path(path)
        try:
            lines = path.read_bytes().splitlines()
        except OSError as error:
            raise RecordingError(
                f"Cannot read the log {str(path)!r}: {error}. Pass the path of a run's .jsonl log."
            ) from None
        recording = cls(path, {}, {}, {}, {})
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            event = _event(path, raw, number, last=number == len(lines))
            if event is not None:
                recording._add(event, number)
        if not recording.run_start:
            raise RecordingError(
                f"{path} is empty: it is not a fast-rlm run log. Pass the path of a run's .jsonl log."
            )
        return recording

    def _add(self, event: dict[str, Any], line: int) -> None:
        kind = event.get("event")
        if line == 1 or not self.run_start:
            if kind != "run_start":
                raise RecordingError(
                    f"{self.path} does not start with a run_start event: it is not a fast-rlm run log. "
                    "Pass the path of a log fast_rlm.run() wrote (its result's 'log_file')."
                )
            self.run_start = event
            return
        agent_id = event.get("agent_id")
        if kind == "agent_start":
            self.agents[agent_id] = AgentHistory(started_at_line=line)
        elif kind == "llm_call":
            self.calls.setdefault(agent_id, {})[event["call"]] = event
            self.call_lines[(agent_id, event["call"])] = line
        elif kind == "code_step" and agent_id in self.agents:
            # A step runs code of the agent's latest reply: the last of its calls logged so far.
            history = self.agents[agent_id]
            history.call_of_step[event["step"]] = max(self.calls.get(agent_id, {0: None}))
            if event.get("final"):
                history.final_call = history.call_of_step[event["step"]]

    def replies(self, agent_ids: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Each agent's recorded replies from call 1 on, up to its first call the log lacks (a reply
        in flight when the run was cut)."""
        replies: dict[str, list[dict[str, Any]]] = {}
        for agent_id, calls in self.calls.items():
            if agent_ids is not None and agent_id not in agent_ids:
                continue
            replies[agent_id] = []
            while len(replies[agent_id]) + 1 in calls:
                call = calls[len(replies[agent_id]) + 1]
                replies[agent_id].append({name: call.get(name) for name in _REPLAYED_FIELDS})
        return replies

    def engine_recording(self, strict: bool) -> dict[str, Any]:
        """The start message's `recording` for a replay (strict) or a resume."""
        if "root" not in self.calls:
            raise RecordingError(
                f"{self.path} holds no model exchange of the root agent: there is nothing to replay. "
                "Start the run afresh with fast_rlm.run()."
            )
        return {"log_file": str(self.path), "strict": strict, "calls": self.replies(), "fork": None}

    def fork_recording(self, at: str, step: int, instruction: str | None) -> dict[str, Any]:
        """The start message's `recording` for a fork at agent `at` after its code step `step` (0:
        before its first call): its later calls, and what its later helpers did, go to the model."""
        history = self.agents.get(at)
        if history is None or at not in self.calls:
            known = ", ".join(sorted(self.calls)) or "none"
            raise ForkPointError(
                f"{self.path} has no model exchange of an agent {at!r}. Agents with exchanges: {known}."
            )
        choices = self.fork_steps(at)
        if step not in choices:
            raise ForkPointError(
                f"Agent {at} in {self.path} has no step {step!r} to fork at. Valid steps: "
                f"{', '.join(map(str, choices))} (0: before its first model call; a step whose model turn "
                "gave the agent's FINAL value leaves nothing to continue)."
            )
        after_call = 0 if step == 0 else history.call_of_step[step]
        # Helpers started by the turns up to the fork point are part of its state; later ones are not.
        cut_line = self.call_lines.get((at, after_call + 1), math.inf)
        kept = {
            agent_id
            for agent_id in self.calls
            if not (agent_id.startswith(f"{at}.") and self.agents[agent_id].started_at_line > cut_line)
        }
        replies = self.replies(kept)
        replies[at] = replies[at][:after_call]
        fork = {"agent_id": at, "after_call": after_call, "instruction": instruction}
        return {"log_file": str(self.path), "strict": False, "calls": replies, "fork": fork}

    def fork_steps(self, agent_id: str) -> list[int]:
        """The steps of `agent_id` a fork may start after: 0, and each code step whose model turn did
        not end the agent."""
        history = self.agents[agent_id]
        return [0] + [
            step for step, call in sorted(history.call_of_step.items()) if call != history.final_call
        ]

    def query(self, given: Any) -> Any:
        """The recorded query, or `given` once checked against the recorded one's hash."""
        recorded_hash = self.run_start.get("query_sha256")
        if recorded_hash is None:
            raise RecordingError(
                f"{self.path} was written by a fast-rlm version that did not record the query: it cannot "
                "be replayed, resumed or forked. Start the run afresh with fast_rlm.run()."
            )
        if given is None:
            if "query" not in self.run_start or self.run_start["query"] is None:
                raise RecordingError(
                    f"{self.path} keeps only the hash of its query (over 1 MB): pass the same query again "
                    "as query=..."
                )
            return self.run_start["query"]
        sent = given if isinstance(given, str) else json.dumps(given, ensure_ascii=False)
        if hashlib.sha256(sent.encode("utf-8")).hexdigest() != recorded_hash:
            raise RecordingError(
                f"The query passed differs from the one {self.path} recorded. Leave query out to use the "
                "recorded one, or start a new run with fast_rlm.run()."
            )
        return given


def _event(path: Path, raw: bytes, number: int, last: bool) -> dict[str, Any] | None:
    """The line's event; None for a last line cut short (the writer was killed mid-line)."""
    try:
        event = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        if last and number > 1:
            return None
        raise RecordingError(
            f"{path}, line {number}, is not JSON: the file is not a fast-rlm run log. Pass the path of "
            "a log fast_rlm.run() wrote (its result's 'log_file')."
        ) from None
    if not isinstance(event, dict) or "event" not in event:
        raise RecordingError(
            f"{path}, line {number}, is not a fast-rlm log event: the file is not a run log."
        )
    if event.get("v") != LOG_SCHEMA_VERSION:
        raise RecordingError(
            f"{path} is a log of schema version {event.get('v')!r}; this fast-rlm reads version "
            f"{LOG_SCHEMA_VERSION}. Replay it with the fast-rlm version that wrote it."
        )
    return event
