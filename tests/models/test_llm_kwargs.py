"""Provider options (issue 13, item 3): llm_kwargs per run, per role (root_llm_kwargs /
sub_llm_kwargs) and per llm_query call, checked against the known keys; anything else travels under
extra_body, whose entries are put into the request body untouched."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError
from fast_rlm.scripted.server import first_user_message, repl
from tests import scripted_server as scenarios
from tests.conftest import config_for


def two_helpers(request):
    if scenarios.is_root(request):
        return repl(
            "FINAL(await batch_llm_query(llm_query(1, 'plain'), "
            "llm_query(2, 'tuned', llm_kwargs={'top_p': 0.5, 'extra_body': {'call_field': 3}})))"
        )
    return repl("FINAL(context)")


def test_each_layer_overrides_the_one_before_and_extra_body_entries_reach_the_body(scripted_server):
    server = scripted_server(two_helpers)
    result = fast_rlm.run(
        "q",
        config=config_for(server),
        llm_kwargs={"temperature": 0.1, "seed": 7, "extra_body": {"run_field": 1}},
        root_llm_kwargs={"temperature": 0.9},
        sub_llm_kwargs={"max_tokens": 300, "extra_body": {"sub_field": 2}},
        verbosity=0,
    )
    assert result["results"] == [1, 2]
    bodies = {first_user_message(request): request for request in server.requests}
    root = next(body for text, body in bodies.items() if scenarios.ROOT_TASK in text)
    plain = next(body for text, body in bodies.items() if "plain" in text)
    tuned = next(body for text, body in bodies.items() if "tuned" in text)
    assert (root["temperature"], root["seed"], root["run_field"]) == (0.9, 7, 1)
    assert "max_tokens" not in root and "sub_field" not in root
    assert (plain["temperature"], plain["max_tokens"], plain["run_field"], plain["sub_field"]) == (
        0.1,
        300,
        1,
        2,
    )
    assert "top_p" not in plain and "call_field" not in plain
    assert (tuned["top_p"], tuned["call_field"], tuned["sub_field"]) == (0.5, 3, 2)
    # As the OpenAI SDK sends extra_body: its entries merged into the body, no field of its own.
    assert all("extra_body" not in body for body in server.requests)


def test_the_anthropic_body_gets_extra_body_entries_and_no_extra_body_field(scripted_server):
    server = scripted_server(scenarios.fan_out(1))
    fast_rlm.run(
        "q",
        config={
            "primary_agent": "anthropic:claude-test",
            "anthropic_base_url": server.anthropic_base_url,
            "anthropic_api_key": "anthropic-test-key-123",
        },
        llm_kwargs={"temperature": 0.2, "extra_body": {"thinking": {"type": "disabled"}}},
        root_llm_kwargs={"max_tokens": 1000},
        verbosity=0,
    )
    root, child = (wire["body"] for wire in server.wire_requests)
    assert (root["temperature"], root["max_tokens"], root["thinking"]) == (0.2, 1000, {"type": "disabled"})
    assert child["max_tokens"] == 8192  # the Messages API requires one; this is the default
    assert "extra_body" not in root and "extra_body" not in child


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"llm_kwargs": {"temprature": 0}}, "unknown key 'temprature'. Did you mean 'temperature'?"),
        ({"sub_llm_kwargs": {"my_field": 1}}, r"sub_llm_kwargs\['extra_body'\] = \{'my_field': ...\}"),
        ({"root_llm_kwargs": {"extra_body": {"model": "x"}}}, "root_llm_kwargs cannot set 'model'"),
        ({"root_llm_kwargs": {"extra_body": [1]}}, "must be a dict of request-body fields"),
        (
            {
                "config": {"sub_agent": "anthropic:claude", "anthropic_api_key": "k"},
                "llm_kwargs": {"seed": 1},
            },
            "'seed' is not a parameter of the anthropic API",
        ),
    ],
)
def test_bad_provider_options_fail_before_the_engine_starts(isolated_workdir, arguments, message):
    config = {"api_key": "k", **arguments.pop("config", {})}
    with pytest.raises(ConfigError, match=message):
        fast_rlm.run("q", config=config, verbosity=0, **arguments)
    assert list(isolated_workdir.iterdir()) == []


def test_a_bad_key_in_an_llm_query_fails_that_call_with_the_fix_named(scripted_server):
    def respond(request):
        if scenarios.is_root(request):
            return repl(
                "errors = []\n"
                "for kwargs in ({'temprature': 0}, {'stop_sequences': ['x']}, ['temperature']):\n"
                "    try:\n        await llm_query(1, llm_kwargs=kwargs)\n"
                "    except Exception as error:\n        errors.append(f'{type(error).__name__}: {error}')\n"
                "FINAL(errors)"
            )
        return repl("FINAL(0)")

    server = scripted_server(respond)
    unknown, wrong_provider, not_a_dict = fast_rlm.run("q", config=config_for(server), verbosity=0)["results"]
    assert 'unknown llm_kwargs key "temprature"' in unknown and 'llm_kwargs["extra_body"]' in unknown
    assert '"stop_sequences" is taken by anthropic models only' in wrong_provider
    assert not_a_dict.startswith("TypeError: llm_query: llm_kwargs must be a dict")
    assert len(server.requests) == 1  # the root FINALed in its one call: no helper was started
