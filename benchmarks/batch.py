"""Batch and tracing benchmark: run_batch on the local and Ray executors, and the cost of tracing.

    python benchmarks/batch.py               # 100 queries of fan-out 8, 2 at a time; tracing on fan-out 100
    python benchmarks/batch.py --skip-ray    # without Ray
    python benchmarks/batch.py --queries 20  # a quicker batch

Every run is real (Deno engine, REPL processes) against the scripted model server at 0 ms latency,
so the figures are the engine's own cost. Targets (issue 16): the local batch within 1.2x of
queries/2 x one run's wall time; the Ray batch (local cluster, started before the clock) within
1.5x of the local one; tracing to an in-memory exporter under 5% on a fan-out of 100.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
if (CHECKOUT / "fast_rlm" / "__init__.py").is_file():
    sys.path.insert(0, str(CHECKOUT))

from fanout import NO_RUN_CAPS, fanout_responder  # noqa: E402

import fast_rlm  # noqa: E402
from fast_rlm.errors import FastRLMError  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer  # noqa: E402

PARALLEL_RUNS = 2


def config_for(server: ScriptedModelServer) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": "benchmark", "max_depth": 1, **NO_RUN_CAPS}


def one_run_s(server: ScriptedModelServer, fanout: int, log_dir: Path, **arguments: Any) -> float:
    started = time.perf_counter()
    result = fast_rlm.run(
        list(range(fanout)), config=config_for(server), log_dir=log_dir, verbosity=0, **arguments
    )
    elapsed = time.perf_counter() - started
    assert result["results"] == [item * item for item in range(fanout)], result["results"]
    return elapsed


def batch_s(server: ScriptedModelServer, queries: int, fanout: int, log_dir: Path, executor: str) -> float:
    started = time.perf_counter()
    outcomes = fast_rlm.run_batch(
        [list(range(fanout))] * queries,
        executor=executor,
        max_parallel_runs=PARALLEL_RUNS,
        config=config_for(server),
        log_dir=log_dir,
        verbosity=0,
    )
    elapsed = time.perf_counter() - started
    failures = [outcome for outcome in outcomes if isinstance(outcome, FastRLMError)]
    assert not failures, f"{len(failures)} runs failed, the first: {failures[:1]}"
    return elapsed


def tracing_overhead(
    server: ScriptedModelServer, fanout: int, log_dir: Path, repeat: int
) -> tuple[float, float]:
    """Median wall time of a run untraced and traced (in-memory exporter), alternating the two."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    untraced, traced = [], []
    for _ in range(repeat):
        untraced.append(one_run_s(server, fanout, log_dir, tracer_provider=False))
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        traced.append(one_run_s(server, fanout, log_dir, tracer_provider=provider))
        assert len(exporter.get_finished_spans()) >= 2 * (fanout + 1)
    return statistics.median(untraced), statistics.median(traced)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=8)
    parser.add_argument("--tracing-fanout", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="single runs per median (default 5)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-tracing", action="store_true")
    arguments = parser.parse_args()
    cores = os.cpu_count()
    print(f"fast-rlm batch benchmark: {cores} cores, load average {os.getloadavg()[0]:.2f} before the runs")
    print("The machine may be shared: other work skews every figure below.\n")
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="fast-rlm-batch-bench-") as temporary,
        ScriptedModelServer(fanout_responder) as server,
    ):
        log_dir = Path(temporary)
        one_run_s(server, 1, log_dir)  # warm-up: the one-time snapshot and dependency install
        single = statistics.median(
            one_run_s(server, arguments.fanout, log_dir) for _ in range(arguments.repeat)
        )
        ideal = arguments.queries / PARALLEL_RUNS * single
        print(f"one run, fan-out {arguments.fanout}: {single:.2f} s (median of {arguments.repeat})")
        local = batch_s(server, arguments.queries, arguments.fanout, log_dir, "local")
        ratio = local / ideal
        failed |= ratio > 1.2
        print(
            f"local executor, {arguments.queries} queries, {PARALLEL_RUNS} at a time: {local:.1f} s = "
            f"{ratio:.2f}x of {arguments.queries}/{PARALLEL_RUNS} x one run ({ideal:.1f} s); "
            f"target <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'}"
        )
        if not arguments.skip_ray:
            import ray

            started = time.perf_counter()
            ray.init(
                num_cpus=PARALLEL_RUNS,
                include_dashboard=False,
                log_to_driver=False,
                # The workers import the fast_rlm being measured, as the driver does.
                runtime_env={"env_vars": {"PYTHONPATH": str(CHECKOUT)}},
            )
            print(
                f"ray local cluster ({PARALLEL_RUNS} CPUs) started in {time.perf_counter() - started:.1f} s"
            )
            try:
                on_ray = batch_s(server, arguments.queries, arguments.fanout, log_dir, "ray")
            finally:
                ray.shutdown()
            ray_ratio = on_ray / local
            failed |= ray_ratio > 1.5
            print(
                f"ray executor, same batch: {on_ray:.1f} s = {ray_ratio:.2f}x of the local executor; "
                f"target <= 1.5x: {'met' if ray_ratio <= 1.5 else 'MISSED'}"
            )
        if not arguments.skip_tracing:
            untraced, traced = tracing_overhead(server, arguments.tracing_fanout, log_dir, arguments.repeat)
            overhead = (traced - untraced) / untraced
            failed |= overhead >= 0.05
            print(
                f"tracing, fan-out {arguments.tracing_fanout}: {untraced:.2f} s untraced, "
                f"{traced:.2f} s traced (medians of {arguments.repeat}, alternating): {overhead:+.1%}; "
                f"target < 5%: {'met' if overhead < 0.05 else 'MISSED'}"
            )
    print(f"\nload average after the runs: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
