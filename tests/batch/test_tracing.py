"""OpenTelemetry: each run is a trace whose span tree matches the run's log."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import ConfigTypeError
from fast_rlm.scripted.server import ScriptedReply, call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log

pytest.importorskip("opentelemetry.sdk", reason='tracing needs pip install "fast-rlm[otel]"')

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

CHILD_INSTRUCTION = "Double the number."
NANOSECONDS = 1_000_000_000


def double_on_host(value: int) -> int:
    """Doubles a number, on the host."""
    return value * 2


def tree_responder(request):
    """Root: a host call and two children, then FINAL their answers. Child: a failing step, FINAL."""
    if CHILD_INSTRUCTION in first_user_message(request):
        if call_number(request) == 1:
            return ScriptedReply(content=repl("1 / 0"), cost=0.001)
        return ScriptedReply(content=repl("FINAL(context * 2)"), cost=0.002)
    calls = f"llm_query(1, {CHILD_INSTRUCTION!r}), llm_query(2, {CHILD_INSTRUCTION!r})"
    code = f"doubled = await double_on_host(21)\nFINAL([doubled, *await batch_llm_query({calls})])"
    return ScriptedReply(content=repl(code), cost=0.003)


def traced_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_run_is_one_trace_whose_spans_match_the_log(scripted_server):
    server = scripted_server(tree_responder)
    provider, exporter = traced_provider()
    result = fast_rlm.run(
        "q",
        config=config_for(server, max_depth=1, max_calls_per_subagent=3),
        host_functions=[double_on_host],
        tracer_provider=provider,
        verbosity=0,
    )
    assert result["results"] == [42, 2, 4]
    log = read_log(result["log_file"])
    spans = exporter.get_finished_spans()

    assert len({span.context.trace_id for span in spans}) == 1
    by_id = {span.context.span_id: span for span in spans}
    agent_spans = [span for span in spans if span.name.startswith("invoke_agent")]
    agents = {span.attributes["gen_ai.agent.id"]: span for span in agent_spans}
    # One span per agent, parent-child as the agents' tree in the log.
    assert sorted(agents) == sorted(event["agent_id"] for event in events_of(log, "agent_start"))
    for start in events_of(log, "agent_start"):
        span = agents[start["agent_id"]]
        if start["parent_id"] is None:
            assert span.parent is None
        else:
            assert by_id[span.parent.span_id] is agents[start["parent_id"]]
        assert span.start_time == int(start["ts"] * NANOSECONDS)

    def children(agent_id: str, prefix: str) -> list:
        agent_span_id = agents[agent_id].context.span_id
        found = [s for s in spans if s.parent and s.parent.span_id == agent_span_id]
        found = [s for s in found if s.name.startswith(prefix)]
        return sorted(found, key=lambda span: span.start_time)

    for call in events_of(log, "llm_call"):
        calls = children(call["agent_id"], "chat ")
        span = next(s for s in calls if s.attributes["fast_rlm.call"] == call["call"])
        assert span.name == f"chat {call['model']}"
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.request.model"] == call["model"]
        assert span.attributes["gen_ai.usage.input_tokens"] == call["usage"]["prompt_tokens"]
        assert span.attributes["gen_ai.usage.output_tokens"] == call["usage"]["completion_tokens"]
        assert span.attributes["gen_ai.usage.cost"] == call["usage"]["cost"]
        assert span.end_time == int(call["ts"] * NANOSECONDS)
        assert span.end_time - span.start_time == pytest.approx(call["duration_s"] * NANOSECONDS, abs=1000)

    steps = events_of(log, "code_step")
    assert sum(len(children(agent_id, "code_step")) for agent_id in agents) == len(steps)
    for step in steps:
        agent_steps = children(step["agent_id"], "code_step")
        span = next(s for s in agent_steps if s.attributes["fast_rlm.step"] == step["step"])
        assert (span.status.status_code == StatusCode.ERROR) == (step["error"] is not None)

    host_calls = events_of(log, "host_call")
    assert len(host_calls) == 1
    for call in host_calls:
        (span,) = children(call["agent_id"], "execute_tool")
        assert span.name == "execute_tool double_on_host"
        assert span.attributes["gen_ai.tool.name"] == "double_on_host"

    root = agents["root"]
    run_end = events_of(log, "run_end")[0]
    assert root.end_time == int(run_end["ts"] * NANOSECONDS)
    assert root.attributes["fast_rlm.run_id"] == result["run_id"]
    assert root.attributes["gen_ai.usage.input_tokens"] == result["usage"]["prompt_tokens"]
    assert root.attributes["gen_ai.usage.cost"] == pytest.approx(result["usage"]["cost"])
    assert root.status.status_code != StatusCode.ERROR


def test_a_failed_run_ends_every_span_with_an_error_status(scripted_server):
    server = scripted_server(lambda request: "no code block, ever")
    provider, exporter = traced_provider()
    with pytest.raises(fast_rlm.errors.BudgetExceededError):
        fast_rlm.run(
            "q", config=config_for(server, max_calls_per_subagent=2), tracer_provider=provider, verbosity=0
        )
    spans = exporter.get_finished_spans()
    (root,) = [span for span in spans if span.name.startswith("invoke_agent")]
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "BudgetExceededError"
    assert root.attributes["fast_rlm.status"] == "error"
    assert len([span for span in spans if span.name.startswith("chat ")]) == 2


def test_tracer_provider_of_the_wrong_type_is_refused_before_the_run(scripted_server):
    server = scripted_server(lambda request: repl("FINAL(1)"))
    with pytest.raises(ConfigTypeError, match="tracer_provider must be an OpenTelemetry TracerProvider"):
        fast_rlm.run("q", config=config_for(server), tracer_provider="console", verbosity=0)
    assert server.request_count == 0


def _run_in_subprocess(script: str, environment: dict[str, str], tmp_path: Path) -> str:
    checkout = str(Path(fast_rlm.__file__).resolve().parent.parent)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**environment, "PYTHONPATH": checkout},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


RUN_AND_REPORT_OTEL_IMPORTS = """
    import sys, fast_rlm
    from fast_rlm.scripted.server import ScriptedModelServer, repl
    with ScriptedModelServer(lambda request: repl("FINAL(1)")) as server:
        result = fast_rlm.run("q", config={"base_url": server.base_url, "api_key": "k"}, verbosity=0)
    print(result["results"], "opentelemetry" in sys.modules)
"""


def test_no_opentelemetry_import_when_tracing_is_not_asked_for(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    assert _run_in_subprocess(RUN_AND_REPORT_OTEL_IMPORTS, environment, tmp_path).split() == ["1", "False"]


def test_an_otlp_endpoint_in_the_environment_exports_the_run_over_otlp(tmp_path):
    """A collector stand-in on 127.0.0.1 receives the run's spans over OTLP/HTTP."""
    script = """
        import http.server, threading, sys, fast_rlm
        from fast_rlm.scripted.server import ScriptedModelServer, repl
        received = []
        class Collector(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append((self.path, self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
            def log_message(self, *args): pass
        collector = http.server.HTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=collector.serve_forever, daemon=True).start()
        import os
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{collector.server_address[1]}"
        with ScriptedModelServer(lambda request: repl("FINAL(1)")) as server:
            fast_rlm.run("q", config={"base_url": server.base_url, "api_key": "k"}, verbosity=0)
        from fast_rlm.watch import tracing
        tracing._environment_provider.force_flush()
        print(received[0][0], b"invoke_agent root" in b"".join(body for _, body in received))
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    assert _run_in_subprocess(script, environment, tmp_path).split() == ["/v1/traces", "True"]
