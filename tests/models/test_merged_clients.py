"""The one model-client design (issue 13, items 1-7 together): the native Anthropic client sends
images as base64 image blocks, reads thinking blocks as reasoning and a max_tokens stop as a cut
reply, and reuses the image-refusal check; an llm_query's llm_kwargs reach a Python model as
keywords, checked by name only."""

from __future__ import annotations

import base64

import fast_rlm
from fast_rlm.scripted.server import ScriptedReply, repl
from tests.conftest import config_for, events_of, read_log

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
ANTHROPIC_KEY = "anthropic-test-key-123"


def anthropic_config(server, **overrides):
    return {
        "primary_agent": "anthropic:claude-root",
        "sub_agent": "anthropic:claude-helper",
        "anthropic_base_url": server.anthropic_base_url,
        "anthropic_api_key": ANTHROPIC_KEY,
        **overrides,
    }


def test_anthropic_gets_image_blocks_with_a_cache_breakpoint_and_reasoning_comes_back_apart(scripted_server):
    answers = iter(
        [
            ScriptedReply(content="", reasoning="the chart is cut off", finish_reason="length"),
            ScriptedReply(content=repl('FINAL("a bar chart")'), reasoning="looked again"),
        ]
    )
    server = scripted_server(lambda request: next(answers))
    result = fast_rlm.run("what is in it?", config=anthropic_config(server), images=[PNG], verbosity=0)

    assert result["results"] == "a bar chart"
    first = server.wire_requests[0]["body"]["messages"][0]
    assert first["role"] == "user"
    image_blocks = [block for block in first["content"] if block["type"] == "image"]
    assert image_blocks == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert first["content"][0]["type"] == "text" and "cache_control" not in first["content"][0]
    calls = events_of(read_log(result["log_file"]), "llm_call")
    assert [(call["reasoning"], call["finish_reason"]) for call in calls] == [
        ("the chart is cut off", "length"),
        ("looked again", "stop"),
    ]
    # The cut reply got the corrective observation, and no reasoning went back to the model.
    second = server.requests[1]["messages"]
    assert "cut off at the output token limit" in second[-1]["content"]
    assert "the chart is cut off" not in str(second)


def test_an_anthropic_model_that_refuses_images_fails_that_call_with_the_fix(scripted_server):
    def respond(request):
        if any(isinstance(message["content"], list) for message in request["messages"]):
            return ScriptedReply(
                status=400, body='{"error": {"message": "this model does not take image input"}}'
            )
        return repl(
            "try:\n    await llm_query('x', images=[b'GIF89a123'])\nexcept Exception as e:\n    FINAL(str(e))"
        )

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=anthropic_config(server), verbosity=0)
    assert "claude-helper refused the images it was sent" in result["results"]
    assert (
        sum(1 for wire in server.wire_requests if wire["body"]["model"] == "claude-helper") == 1
    )  # never retried


def test_an_llm_query_s_llm_kwargs_reach_a_python_model_as_keywords(scripted_server):
    seen: list[dict] = []

    def local(messages, **llm_kwargs):
        seen.append(llm_kwargs)
        return repl('FINAL("child")')

    server = scripted_server(
        lambda request: repl(
            "FINAL(await llm_query('x', model='python:local',"
            " llm_kwargs={'seed': 3, 'extra_body': {'k': 1}}))"
        )
    )
    result = fast_rlm.run(
        "q",
        config=config_for(server),
        models={"python:local": local},
        llm_kwargs={"temperature": 0},
        sub_llm_kwargs={"top_p": 0.5},
        verbosity=0,
    )
    assert result["results"] == "child"
    assert seen == [{"temperature": 0, "top_p": 0.5, "seed": 3, "extra_body": {"k": 1}}]


def test_an_unknown_llm_kwargs_key_for_a_python_model_fails_that_llm_query(scripted_server):
    server = scripted_server(
        lambda request: repl(
            "try:\n    await llm_query('x', model='python:local', llm_kwargs={'tempreature': 1})\n"
            "except Exception as e:\n    FINAL(str(e))"
        )
    )
    result = fast_rlm.run(
        "q", config=config_for(server), models={"python:local": lambda messages, **kw: "never"}, verbosity=0
    )
    assert 'unknown llm_kwargs key "tempreature"' in result["results"]
