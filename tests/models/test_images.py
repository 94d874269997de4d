"""Images for agents: run(images=[...]) for the root (bytes, a file path read on the host, or a data
URL) and llm_query(..., images=[...]) in the REPL (bytes or a data URL), sent as OpenAI image_url
parts; the log keeps each image's sha256, type and size, never its bytes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import ImageError
from fast_rlm.scripted.server import ScriptedReply, first_user_message, repl
from tests.conftest import config_for, events_of, read_log

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
GIF = b"GIF89a" + b"\x01\x02\x03" * 50


def image_urls(request) -> list[str]:
    first_user = next(message for message in request["messages"] if message["role"] == "user")
    if isinstance(first_user["content"], str):
        return []
    return [part["image_url"]["url"] for part in first_user["content"] if part["type"] == "image_url"]


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_run_images_reach_the_root_and_the_log_keeps_only_their_hashes(scripted_server, tmp_path: Path):
    (tmp_path / "chart.png").write_bytes(PNG)
    server = scripted_server(lambda request: repl('FINAL("seen")'))
    result = fast_rlm.run(
        "what is in the chart?",
        config=config_for(server),
        images=["chart.png", GIF, data_url("image/png", PNG)],
        verbosity=0,
    )

    assert image_urls(server.requests[0]) == [
        data_url("image/png", PNG),
        data_url("image/gif", GIF),
        data_url("image/png", PNG),
    ]
    assert "3 images come with this message" in first_user_message(server.requests[0])
    log_text = Path(result["log_file"]).read_text()
    assert base64.b64encode(PNG).decode()[:40] not in log_text
    png_record = {"sha256": hashlib.sha256(PNG).hexdigest(), "media_type": "image/png", "bytes": len(PNG)}
    gif_record = {"sha256": hashlib.sha256(GIF).hexdigest(), "media_type": "image/gif", "bytes": len(GIF)}
    log = read_log(result["log_file"])
    assert events_of(log, "agent_start")[0]["images"] == [png_record, gif_record, png_record]
    first_user = events_of(log, "llm_call")[0]["new_messages"][1]
    assert first_user["images"] == [png_record, gif_record, png_record]
    assert isinstance(first_user["content"], str)


ROOT_CODE = f"""
png = {PNG!r}
url = {data_url("image/gif", GIF)!r}
FINAL(await llm_query("x", "describe the pictures", images=[png, url]))
"""


def test_llm_query_images_go_to_the_child_only(scripted_server):
    def respond(request):
        if "describe the pictures" in first_user_message(request):
            return repl('FINAL("two pictures")')
        return repl(ROOT_CODE)

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "two pictures"
    root_request, child_request = server.requests
    assert image_urls(root_request) == []
    assert image_urls(child_request) == [data_url("image/png", PNG), data_url("image/gif", GIF)]
    child_start = events_of(read_log(result["log_file"]), "agent_start")[1]
    assert [image["media_type"] for image in child_start["images"]] == ["image/png", "image/gif"]


def test_a_path_in_the_repl_is_a_type_error_naming_the_fix(scripted_server):
    code = """
try:
    await llm_query("x", "look", images=["/etc/hostname"])
except TypeError as error:
    FINAL(str(error))
"""
    server = scripted_server(lambda request: repl(code))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert "The REPL has no files" in result["results"] and "run(images=[...])" in result["results"]
    assert server.request_count == 1


def test_a_model_that_refuses_images_fails_that_call_clearly(scripted_server):
    code = f"""
try:
    await llm_query("x", "describe", images=[{PNG!r}])
except LLMQueryError as error:
    FINAL(str(error))
"""

    def respond(request):
        if image_urls(request):
            return ScriptedReply(
                status=400, body='{"error": {"message": "this model does not support image input"}}'
            )
        return repl(code)

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert "refused the images" in result["results"]
    assert "accepts images" in result["results"]


def test_python_models_get_images_as_data_urls():
    received = []

    def vision(messages, **llm_kwargs):
        received.append(messages[1]["content"])
        return repl('FINAL("ok")')

    fast_rlm.run("q", model=vision, images=[PNG], verbosity=0)
    assert received[0][1] == {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}}


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (["missing.png"], r"images\[0\]: no file at 'missing.png'"),
        ([b"plain text"], "is not a PNG, JPEG, GIF or WebP image"),
        (["data:text/plain;base64,aGk="], "is not a base64 data URL of an image"),
        ([PNG * 200], "over max_value_mb=0.1"),
        ("chart.png", "images must be a list"),
    ],
)
def test_bad_images_fail_before_the_engine_starts(images, message):
    with pytest.raises(ImageError, match=message):
        fast_rlm.run("q", config={"api_key": "k", "max_value_mb": 0.1}, images=images, verbosity=0)
