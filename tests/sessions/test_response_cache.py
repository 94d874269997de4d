"""The response cache (run(cache_dir=...) / config cache_dir): a request answered before is answered
again from disk, for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError
from tests.conftest import config_for, events_of, read_log
from tests.sessions.replay_scenarios import SquaresModel, squares


def test_a_second_run_is_answered_from_the_cache_for_nothing(scripted_server, tmp_path):
    server = scripted_server(SquaresModel(3))
    cache = tmp_path / "cache"
    first = fast_rlm.run("square them", config=config_for(server), cache_dir=cache, verbosity=0)
    assert server.request_count == 5 and first["usage"]["cache_hits"] == 0

    second = fast_rlm.run("square them", config=config_for(server), cache_dir=cache, verbosity=0)

    assert second["results"] == first["results"] == squares(3)
    assert server.request_count == 5  # nothing was sent
    usage = second["usage"]
    assert usage["cache_hits"] == 5
    assert usage["llm_calls"] == 0 and usage["prompt_tokens"] == 0 and usage["cost"] is None
    calls = events_of(read_log(second["log_file"]), "llm_call")
    assert len(calls) == 5 and all(call["cached"] and call["attempts"] == 0 for call in calls)
    assert all(call["usage"]["prompt_tokens"] == 0 for call in calls)
    assert not any("cached" in call for call in events_of(read_log(first["log_file"]), "llm_call"))
    entries = list(cache.rglob("*"))
    assert len([entry for entry in entries if entry.suffix == ".json"]) == 5
    assert not [entry for entry in entries if entry.name.endswith(".tmp")]


def test_the_cache_key_holds_the_parameters_and_the_config_key_turns_it_on(scripted_server, tmp_path):
    server = scripted_server(SquaresModel(1))
    config = config_for(server, cache_dir=str(tmp_path / "cache"))
    fast_rlm.run("square them", config=config, llm_kwargs={"temperature": 0.1}, verbosity=0)
    assert server.request_count == 3

    fast_rlm.run("square them", config=config, llm_kwargs={"temperature": 0.9}, verbosity=0)
    assert server.request_count == 6  # other parameters: another request
    again = fast_rlm.run("square them", config=config, llm_kwargs={"temperature": 0.9}, verbosity=0)
    assert server.request_count == 6 and again["usage"]["cache_hits"] == 3


def test_an_unreadable_entry_is_a_miss_and_is_rewritten(scripted_server, tmp_path):
    server = scripted_server(SquaresModel(1))
    cache = tmp_path / "cache"
    fast_rlm.run("square them", config=config_for(server), cache_dir=cache, verbosity=0)
    entries = sorted(cache.rglob("*.json"))
    entries[0].write_text("{not json")

    result = fast_rlm.run("square them", config=config_for(server), cache_dir=cache, verbosity=0)

    assert result["results"] == squares(1)
    assert server.request_count == 4 and result["usage"]["cache_hits"] == 2
    assert entries[0].read_text().startswith('{"v":1')


def test_a_cache_dir_that_cannot_be_made_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="Cannot create cache_dir"):
        fast_rlm.run("q", config={"api_key": "k"}, cache_dir=Path(blocker) / "cache", verbosity=0)
