"""The messages the host sends the engine, each built here: the Python side of engine/protocol.ts's
HostMessage (StartMessage, CancelMessage, HostResultMessage, ModelResultMessage). Each travels as
one JSON line (`encoded`); tests/onedef/test_protocol_messages.py holds their fields to the TS types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RunSetup:
    """What run() decides of the start message; EngineRun adds the protocol token, the query's frame
    and the REPL launch paths."""

    run_id: str
    config: dict[str, Any]  # RLMConfig.engine_fields()
    api_key: str  # "" when no configured model uses the endpoint
    anthropic_api_key: str
    instruction: str | None
    mode: str
    log_file: str
    snapshot_file: str
    output_schema: dict[str, Any] | bool | None
    tools: list[dict[str, str]]
    host_functions: list[dict[str, str]]
    env_variables: dict[str, str]
    llm_kwargs: dict[str, Any]
    root_llm_kwargs: dict[str, Any]
    sub_llm_kwargs: dict[str, Any]
    llm_kwargs_keys: dict[str, Any]
    mcp_servers: dict[str, dict[str, Any]]
    host_models: list[str]
    agents: dict[str, dict[str, Any]]
    images: list[dict[str, Any]]
    session: dict[str, Any] | None
    recording: dict[str, Any] | None  # a replay's recorded run (fast_rlm/replay/)
    lineage: dict[str, Any]
    live_events: bool  # False: the engine sends run_end alone (nobody on the host shows the events)


def start_message(
    setup: RunSetup, protocol_token: str, query_frame: dict[str, Any], repl_launch: dict[str, str]
) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: that would deep-copy a run's images and tools.
    return {
        "type": "start",
        **{field.name: getattr(setup, field.name) for field in fields(setup)},
        "protocol_token": protocol_token,
        "query_frame": query_frame,
        "repl_launch": repl_launch,
    }


def cancel_message() -> dict[str, Any]:
    return {"type": "cancel"}


def _error_info(error: BaseException) -> dict[str, str]:
    return {"type": type(error).__name__, "message": str(error)}


def host_result(call_id: int, value: Any) -> dict[str, Any]:
    return {"type": "host_result", "call_id": call_id, "ok": True, "value": value}


def host_failure(call_id: int, error: BaseException) -> dict[str, Any]:
    return {"type": "host_result", "call_id": call_id, "ok": False, "error": _error_info(error)}


def model_result(call_id: int, content: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "model_result", "call_id": call_id, "ok": True, "content": content, "usage": usage}


def model_failure(call_id: int, error: BaseException) -> dict[str, Any]:
    return {"type": "model_result", "call_id": call_id, "ok": False, "error": _error_info(error)}


def encoded(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
