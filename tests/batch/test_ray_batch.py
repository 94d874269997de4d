"""run_batch(executor="ray") on a real local Ray cluster started by the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError, ConfigError, RayConnectionError
from fast_rlm.host.resources import engine_dir
from fast_rlm.scripted.server import repl
from tests.conftest import config_for, events_of, read_log

ray = pytest.importorskip("ray", reason='executor="ray" needs pip install "fast-rlm[ray]"')

SQUARE = repl("FINAL(context[0] * context[0])")  # a query is a list holding a number
CHECKOUT = str(Path(fast_rlm.__file__).resolve().parent.parent)


def test_a_batch_on_a_local_cluster_started_for_it(scripted_server, tmp_path):
    """ray_address=None starts a cluster, runs the queries as tasks, gathers the logs into log_dir,
    traces each run on the driver from its log, and shuts the cluster down again."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert not ray.is_initialized()
    server = scripted_server(lambda request: SQUARE)
    outcomes = fast_rlm.run_batch(
        [[1], [2], {"not": "a list"}, [4]],
        executor="ray",
        max_parallel_runs=2,
        config=config_for(server, max_calls_per_subagent=1),
        log_dir=tmp_path / "gathered",
        tracer_provider=provider,
        verbosity=0,
    )
    assert [outcomes[index]["results"] for index in (0, 1, 3)] == [1, 4, 16]
    roots = [span for span in exporter.get_finished_spans() if span.parent is None]
    assert sorted(span.attributes["fast_rlm.run_id"] for span in roots) == sorted(
        read_log(o.log_file if isinstance(o, Exception) else o["log_file"])[0]["run_id"] for o in outcomes
    )
    assert isinstance(outcomes[2], BudgetExceededError)
    assert not ray.is_initialized()
    gathered = (tmp_path / "gathered").resolve()
    log_files = [Path(o.log_file if isinstance(o, Exception) else o["log_file"]) for o in outcomes]
    assert {log_file.parent for log_file in log_files} == {gathered}
    assert sorted(log_file.name[:7] for log_file in log_files) == ["batch-0", "batch-1", "batch-2", "batch-3"]
    for log_file, outcome in zip(log_files, outcomes, strict=True):
        run_end = events_of(read_log(log_file), "run_end")[0]
        assert run_end["status"] == ("error" if isinstance(outcome, Exception) else "ok")
        # A task holds one CPU, so its run is given one REPL process, whatever the machine's cores.
        run_start = events_of(read_log(log_file), "run_start")[0]
        assert run_start["config"]["workers"] == 1 and run_start["workers"] == 1


@pytest.fixture
def fresh_worker_cluster(tmp_path):
    """A cluster whose workers see an empty engine cache (as a new machine would) and cannot reach
    the npm registry: a proxy nobody answers at stands in the way of anything but 127.0.0.1."""
    worker_cache = tmp_path / "worker-cache"
    unreachable_proxy = "http://127.0.0.1:9"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {
                "FAST_RLM_CACHE_DIR": str(worker_cache),
                "HTTPS_PROXY": unreachable_proxy,
                "HTTP_PROXY": unreachable_proxy,
                "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONPATH": CHECKOUT,
            }
        },
    )
    yield worker_cache
    ray.shutdown()


def test_a_worker_without_the_engine_cache_gets_it_from_the_driver(
    scripted_server, tmp_path, fresh_worker_cluster
):
    server = scripted_server(lambda request: SQUARE)
    outcomes = fast_rlm.run_batch(
        [[3], [5]], executor="ray", config=config_for(server), log_dir=tmp_path / "logs", verbosity=0
    )
    assert [outcome["results"] for outcome in outcomes] == [9, 25]
    shipped = fresh_worker_cluster / "deno"
    assert list(shipped.glob("fast-rlm-installed-*")) and (shipped / "npm").is_dir()
    assert list((fresh_worker_cluster / "python-packages").glob("packages-*.zip"))  # the REPL's wheels too
    assert ray.is_initialized()  # the batch used the cluster it found and left it running
    named_actors = ray.util.list_named_actors(all_namespaces=True)
    assert not [actor for actor in named_actors if "fast-rlm" in str(actor)]  # the cache actor is gone


def _ray_worker_running_an_engine() -> psutil.Process | None:
    main_ts = str(engine_dir() / "main.ts")
    for process in psutil.process_iter(["cmdline"]):
        if main_ts in (process.info["cmdline"] or []):
            parent = process.parent()
            if parent is not None and parent.name().startswith("ray::"):
                return parent
    return None


def test_a_task_whose_worker_died_is_run_again(scripted_server, tmp_path, fresh_worker_cluster):
    """The first model request kills the Ray worker process running that run; Ray runs the task
    again, and the second attempt answers."""
    killed: list[int] = []
    kill_lock = threading.Lock()

    def respond(request):
        with kill_lock:
            if not killed:
                worker = _ray_worker_running_an_engine()
                assert worker is not None
                killed.append(worker.pid)
                os.kill(worker.pid, signal.SIGKILL)
        return SQUARE

    server = scripted_server(respond)
    outcomes = fast_rlm.run_batch(
        [[7]], executor="ray", config=config_for(server), log_dir=tmp_path / "logs", verbosity=0
    )
    assert killed
    assert outcomes[0]["results"] == 49
    assert server.request_count == 2  # the killed attempt's request, and the retry's
    assert [path.name for path in (tmp_path / "logs").iterdir()] == [Path(outcomes[0]["log_file"]).name]


def test_an_unreachable_ray_address_fails_fast(scripted_server):
    server = scripted_server(lambda request: SQUARE)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RayConnectionError, match=f"No Ray cluster answers at ray_address='127.0.0.1:{port}'"):
        fast_rlm.run_batch([[1]], executor="ray", ray_address=f"127.0.0.1:{port}", config=config_for(server))
    assert time.monotonic() - started < 10
    assert server.request_count == 0
    assert not ray.is_initialized()


def test_callbacks_are_refused_with_ray(scripted_server):
    server = scripted_server(lambda request: SQUARE)
    with pytest.raises(ConfigError, match="on_event cannot be used with executor='ray'"):
        fast_rlm.run_batch([[1]], executor="ray", config=config_for(server), on_event=print)
    assert not ray.is_initialized()


RAY_HIDDEN = """
    import importlib.abc, sys

    class HideRay(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "ray" or name.startswith("ray."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, HideRay())
    import fast_rlm
    from fast_rlm.errors import ConfigError
    try:
        fast_rlm.run_batch(["q"], executor="ray", config={"api_key": "k"})
    except ConfigError as error:
        print(type(error).__name__, isinstance(error, ImportError), error)
"""


def test_ray_missing_names_the_extra_to_install(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RAY_HIDDEN)],
        env={**os.environ, "PYTHONPATH": CHECKOUT},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("MissingExtraError True ")
    assert 'pip install "fast-rlm[ray]"' in completed.stdout
