from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fast_rlm.scripted.server import Responder, ScriptedModelServer


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C tests need SIGINT to interrupt: a shell that starts pytest in the background (no job
    control) ignores it, and an ignored signal stays ignored in every engine the tests spawn."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own directory (no stray ./rlm_config.yaml, logs land there) and with no
    key or base URL from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RLM_MODEL_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("RLM_MODEL_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return tmp_path


@pytest.fixture
def scripted_server() -> Iterator[Callable[..., ScriptedModelServer]]:
    """Starts scripted servers on 127.0.0.1 for the test and stops them after it."""
    servers: list[ScriptedModelServer] = []

    def start(
        responder: Responder, latency_s: float = 0.0, responder_may_block: bool = False
    ) -> ScriptedModelServer:
        server = ScriptedModelServer(
            responder, latency_s=latency_s, responder_may_block=responder_may_block
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def config_for(server: ScriptedModelServer, **overrides: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": "test-key-not-secret", **overrides}


def read_log(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def events_of(log: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in log if event["event"] == kind]
