"""fast_rlm.resume() and fast_rlm.fork(): new runs that start from an earlier run's log.

Both run the recorded query again with the engine serving the log's replies first: a call whose
request is the recorded one gets the recorded reply (no request is sent, and what it cost counts in
the new run's usage and caps), any other call goes to the live model, and so do that agent's later
calls. resume() goes on where the run was cut (a killed host or engine, Ctrl-C, a timeout, a cap);
fork() goes live from one agent's step on, optionally told something new.
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from pathlib import Path
from typing import Any

from fast_rlm.config import RLMConfig
from fast_rlm.errors import ForkPointError
from fast_rlm.inputs.config_aliases import CONFIG_ALIASES
from fast_rlm.replay.inputs import RecordingPlan, fill_from_recording
from fast_rlm.replay.recording import Recording
from fast_rlm.run import prepare_run
from fast_rlm.run_arguments import OPTION_NAMES, POSITIONAL_NAMES, run_arguments

_CONFIG_KEYS = frozenset(field.name for field in fields(RLMConfig)) | frozenset(CONFIG_ALIASES)
_RUN_ARGUMENTS = frozenset(OPTION_NAMES) | frozenset(POSITIONAL_NAMES)


def resume(log: str | Path, **overrides: Any) -> dict[str, Any]:
    """Continue the run `log` records where it was cut. `overrides` are run() arguments (config,
    verbosity, tools, log_dir, ...) and config keys (max_llm_calls=..., max_money_spent=...: the caps
    count the whole job, recorded calls included, so a run a cap stopped needs that cap raised).
    Tools, host functions, MCP servers, named agents, images and Python models are not in the log:
    pass them again. The new log's run_start names the old one as `resumed_from`."""
    _check_names(overrides)
    recording = Recording.read(log)
    arguments = _arguments(overrides, recording)
    plan = RecordingPlan(
        recording.engine_recording(strict=False), {"resumed_from": str(recording.path)}, live=True
    )
    return prepare_run(arguments, plan).execute()


def fork(
    log: str | Path,
    at: str = "root",
    step: int = 0,
    instruction: str | None = None,
    config: RLMConfig | dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A new run from agent `at`'s state after its code step `step` (0: before its first model call)
    in the run `log` records: what led there is replayed from the log, and from there that agent (told
    `instruction` as a new user message, when given) and everything that depends on it call the live
    model. `config` and config keys in `overrides` change the config from the recorded one (a model,
    for instance); other `overrides` are run() arguments. The new log's run_start records
    `forked_from` (log, at, step)."""
    if not isinstance(at, str):
        raise ForkPointError(f"at must be an agent id such as 'root' or 'root.2', not {type(at).__name__}.")
    if isinstance(step, bool) or not isinstance(step, int):
        raise ForkPointError(f"step must be an int (a code step number of agent {at}), not {step!r}.")
    if instruction is not None and not isinstance(instruction, str):
        raise ForkPointError(f"instruction must be a str or None, not {type(instruction).__name__}.")
    _check_names(overrides)
    recording = Recording.read(log)
    engine_recording = recording.fork_recording(at, step, instruction)
    arguments = _arguments({**overrides, "config": config}, recording)
    lineage = {"forked_from": {"log": str(recording.path), "at": at, "step": step}}
    return prepare_run(arguments, RecordingPlan(engine_recording, lineage, live=True)).execute()


def _arguments(overrides: dict[str, Any], recording: Recording) -> dict[str, Any]:
    """run()'s arguments: the overrides that are run() arguments, the recorded inputs for the rest,
    and the config keys among the overrides on top of the recorded config."""
    config_keys = {name: value for name, value in overrides.items() if name in _CONFIG_KEYS}
    options = {name: value for name, value in overrides.items() if name not in _CONFIG_KEYS}
    positional = {name: options.pop(name, None) for name in POSITIONAL_NAMES}
    arguments = run_arguments(*positional.values(), options)
    fill_from_recording(arguments, recording, config_keys)
    return arguments


def _check_names(overrides: dict[str, Any]) -> None:
    for name in overrides:
        if name in _CONFIG_KEYS or (name in _RUN_ARGUMENTS and name != "replay"):
            continue
        close = difflib.get_close_matches(name, sorted(_RUN_ARGUMENTS | _CONFIG_KEYS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(
            f"unexpected keyword argument {name!r}: neither a run() argument nor a config key.{hint}"
        )
