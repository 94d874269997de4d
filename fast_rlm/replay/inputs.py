"""What a run replayed, resumed or forked from a log takes from it: the query, instruction, mode,
output schema, provider options and config the log's run_start recorded (anything the caller passes
wins), the replies the engine serves first, and the lineage written into the new log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fast_rlm.config import RLMConfig
from fast_rlm.errors import ConfigError, ConfigTypeError
from fast_rlm.replay.recording import Recording


@dataclass(frozen=True)
class RecordingPlan:
    recording: dict[str, Any]  # the start message's `recording` (engine/recorded_replies.ts)
    lineage: dict[str, Any]  # resumed_from / forked_from, for run_start
    live: bool  # False for a replay: no endpoint, no key, no network


def replay_plan(arguments: dict[str, Any]) -> RecordingPlan | None:
    """run(replay=LOG): the arguments filled in from the log, and its replies served strictly."""
    if arguments["replay"] is None:
        return None
    recording = Recording.read(arguments["replay"])
    fill_from_recording(arguments, recording)
    return RecordingPlan(recording.engine_recording(strict=True), {}, live=False)


def fill_from_recording(
    arguments: dict[str, Any], recording: Recording, config_overrides: dict[str, Any] | None = None
) -> None:
    """Sets, in place, the run() arguments the caller left out to what the log recorded."""
    if arguments["input_file"] is not None:
        raise ConfigError(
            f"input_file cannot be given with a recorded run ({recording.path}): the log holds the query. "
            "Leave input_file out."
        )
    if arguments["session_dir"] is not None or arguments["session_id"] is not None:
        raise ConfigError(
            "A recorded run cannot be one query of a session: leave session_dir and session_id out."
        )
    start = recording.run_start
    arguments["query"] = recording.query(arguments["query"])
    recorded_kwargs = start.get("llm_kwargs") or {}
    recorded = {
        "instruction": start.get("instruction"),
        "mode": start.get("mode"),
        "output_schema": start.get("output_schema"),
        "llm_kwargs": recorded_kwargs.get("run"),
        "root_llm_kwargs": recorded_kwargs.get("root"),
        "sub_llm_kwargs": recorded_kwargs.get("sub"),
    }
    for name, value in recorded.items():
        if arguments[name] is None:
            arguments[name] = value
    arguments["config"] = _recorded_config(start["config"], arguments["config"], config_overrides or {})


def _recorded_config(
    recorded: dict[str, Any], given: RLMConfig | dict[str, Any] | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The recorded config, with the fields the caller set on top."""
    if isinstance(given, RLMConfig):
        given = {name: getattr(given, name) for name in given.fields_set}
    elif given is None:
        given = {}
    elif not isinstance(given, dict):
        raise ConfigTypeError(f"config must be an RLMConfig, a dict or None, not {type(given).__name__}.")
    return {**recorded, **given, **overrides}
