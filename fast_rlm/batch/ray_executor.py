"""run_batch(executor="ray"): each query a Ray task running one fast-rlm run on a cluster's worker.

- Cluster: `ray_address` connects to a running one (checked by TCP first, so a wrong address fails
  in seconds, not after Ray's long reconnect loop); None uses the Ray this process already
  initialised, or starts a local cluster and shuts it down after the batch.
- Logs: a task runs with a log_dir of its own on its worker and returns the log's bytes with its
  outcome; the driver writes them into its log_dir, so every log of the batch ends up in one folder
  whichever machine ran it, and `log_file` (in results and errors) names the driver's copy.
- Engine cache: a worker whose cache lacks the engine's npm packages or the REPL's Python packages
  (a fresh machine) gets them from the driver's cache: it asks an actor pinned to the driver's node,
  made on the first such request, for a tarball of both and the install marker. Workers on the
  driver's machine share its cache and never ask. (Through Ray Client, `ray://`, there is no such
  actor; a worker lacking the cache installs it as `fast-rlm setup` would.)
- Retries: a task whose worker process or node died is run again once (Ray's max_retries=1, which
  counts system failures only); a run that failed on its own is an outcome, never retried.
- Tracing: spans are made on the driver from each returned log (fast_rlm.watch.tracing.trace_log_file).
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fast_rlm.batch.run_batch import RAY_TASK_CPUS, BatchPlan, OutcomeListener, RunOutcome, run_one
from fast_rlm.errors import EngineCrashError, FastRLMError, MissingExtraError, RayConnectionError
from fast_rlm.host.cache_tarball import pack_engine_cache, unpack_engine_cache
from fast_rlm.host.deno_setup import is_installed
from fast_rlm.host.engine_setup import install_engine_dependencies
from fast_rlm.host.python_packages import python_packages_file
from fast_rlm.host.resources import cache_dir
from fast_rlm.watch.tracing import resolve_tracer_provider, trace_log_file

RAY_EXTRA_HINT = 'pip install "fast-rlm[ray]"'
CONNECT_TIMEOUT_S = 5.0
TASK_RETRIES_AFTER_SYSTEM_FAILURE = 1
ENGINE_CACHE_ACTOR_PREFIX = "fast-rlm-engine-cache-"
ENGINE_CACHE_ACTOR_NAMESPACE = "fast-rlm"  # a detached actor is found by namespace and name


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtraError(
            f"executor='ray' needs Ray, which is not installed. Install it with {RAY_EXTRA_HINT}, "
            "or use executor='local'."
        ) from None
    return ray


@dataclass
class WorkerOutcome:
    """What a task sends back: the run's outcome and its log, named and whole."""

    outcome: RunOutcome
    log_name: str | None
    log_bytes: bytes


@dataclass
class EngineCacheSource:
    """Where a worker lacking the engine cache gets it: the driver's node and cache directory."""

    actor_name: str
    driver_node_id: str | None  # None through Ray Client: no node holds the driver's cache
    driver_cache_dir: str


def run_on_ray(plan: BatchPlan, record: OutcomeListener) -> None:
    ray = import_ray()
    install_engine_dependencies()  # the cache a worker without one gets from this machine
    started_here = _connect(ray, plan.ray_address, plan.max_parallel_runs)
    tracer_provider = resolve_tracer_provider(plan.arguments["tracer_provider"])
    through_client = ray.util.client.ray.is_connected()
    cache_source = EngineCacheSource(
        actor_name=ENGINE_CACHE_ACTOR_PREFIX + uuid.uuid4().hex,
        driver_node_id=None if through_client else ray.get_runtime_context().get_node_id(),
        driver_cache_dir=str(cache_dir()),
    )
    task = ray.remote(num_cpus=RAY_TASK_CPUS, max_retries=TASK_RETRIES_AFTER_SYSTEM_FAILURE)(run_on_worker)
    log_dir = Path(plan.arguments["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    waiting = list(range(len(plan.queries)))
    in_flight: dict[Any, int] = {}
    parallel = plan.max_parallel_runs or len(plan.queries)
    try:
        stopping = False
        while waiting or in_flight:
            while waiting and len(in_flight) < parallel and not stopping:
                index = waiting.pop(0)
                arguments = {**plan.run_arguments_for(index), "tracer_provider": False}
                in_flight[task.remote(arguments, cache_source)] = index
            if not in_flight:
                break
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for reference in done:
                index = in_flight.pop(reference)
                try:
                    outcome = _gathered(ray.get(reference), log_dir, tracer_provider)
                except ray.exceptions.RayError as error:  # its worker died again, or its node
                    outcome = EngineCrashError(
                        f"Ray could not run this query, retry included: {type(error).__name__}: {error}"
                    )
                record(index, outcome)
                stopping = stopping or (plan.stop_on_error and isinstance(outcome, FastRLMError))
    except BaseException:  # Ctrl-C: a cancelled task's run sees KeyboardInterrupt and cancels its engine
        for reference in in_flight:
            ray.cancel(reference)
        raise
    finally:
        _remove_cache_actor(ray, cache_source.actor_name)
        if started_here:
            ray.shutdown()


def _connect(ray: Any, address: str | None, max_parallel_runs: int | None) -> bool:
    """Connects to the cluster; True when this call started it (and so must shut it down)."""
    if address is None:
        if ray.is_initialized():
            return False
        from fast_rlm.batch.run_batch import default_parallel_runs

        ray.init(
            num_cpus=max_parallel_runs or default_parallel_runs(),
            include_dashboard=False,
            log_to_driver=False,  # the runs print nothing; their logs come back as files
            configure_logging=False,
        )
        return True
    if ray.is_initialized():
        raise RayConnectionError(
            f"Ray is already initialised in this process, so ray_address={address!r} cannot be used. "
            "Pass ray_address=None to use that cluster, or call ray.shutdown() first."
        )
    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayConnectionError(
            f"Cannot connect to the Ray cluster at {address!r}: {error}. Check ray_address "
            "(host:port of the head node's GCS, 'ray://host:10001' for Ray Client, or 'auto')."
        ) from None
    return False


def _check_reachable(address: str) -> None:
    """A host:port nobody answers at fails here within CONNECT_TIMEOUT_S."""
    host_port = address.removeprefix("ray://")
    if host_port == "auto" or ":" not in host_port:
        return  # Ray finds or refuses these itself, quickly
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as error:
        raise RayConnectionError(
            f"No Ray cluster answers at ray_address={address!r} ({error}). Start one (ray start --head) "
            "or correct the address; ray_address=None starts a local cluster."
        ) from None


def _gathered(worker_outcome: WorkerOutcome, log_dir: Path, tracer_provider: Any) -> RunOutcome:
    """The outcome with its log written into the driver's log_dir, and traced if tracing is on."""
    outcome = worker_outcome.outcome
    if worker_outcome.log_name is None:
        return outcome  # failed before a log was opened (a bad query, say)
    log_file = log_dir / worker_outcome.log_name
    log_file.write_bytes(worker_outcome.log_bytes)
    if isinstance(outcome, FastRLMError):
        outcome.log_file = str(log_file)
    else:
        outcome["log_file"] = str(log_file)
    if tracer_provider is not None:
        trace_log_file(log_file, tracer_provider)
    return outcome


def _remove_cache_actor(ray: Any, actor_name: str) -> None:
    try:
        ray.kill(ray.get_actor(actor_name, namespace=ENGINE_CACHE_ACTOR_NAMESPACE))
    except ValueError:
        pass  # no worker needed it


def run_on_worker(arguments: dict[str, Any], cache_source: EngineCacheSource) -> WorkerOutcome:
    """The Ray task: one run on this worker, its log kept in a directory of its own."""
    if not _engine_cache_ready():
        _install_engine_cache_from_driver(cache_source)
    with tempfile.TemporaryDirectory(prefix="fast-rlm-ray-") as worker_log_dir:
        outcome = run_one({**arguments, "log_dir": worker_log_dir})
        log_file = outcome.log_file if isinstance(outcome, FastRLMError) else outcome["log_file"]
        if log_file is None or not Path(log_file).is_file():
            return WorkerOutcome(outcome, None, b"")
        return WorkerOutcome(outcome, Path(log_file).name, Path(log_file).read_bytes())


def _install_engine_cache_from_driver(cache_source: EngineCacheSource) -> None:
    """Unpacks the driver's engine cache here, once per machine (other tasks wait on a file lock)."""
    if cache_source.driver_node_id is None:
        return  # nothing to ship from; the run installs the cache from the registry
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    with (target / "ray-unpack.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _engine_cache_ready():
            return
        actor = (
            ray.remote(EngineCacheTarball)
            .options(
                name=cache_source.actor_name,
                namespace=ENGINE_CACHE_ACTOR_NAMESPACE,
                get_if_exists=True,
                lifetime="detached",  # outlives the task that made it; the driver removes it
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(cache_source.driver_node_id, soft=False),
            )
            .remote(cache_source.driver_cache_dir)
        )
        unpack_engine_cache(ray.get(actor.tarball.remote()), target)


class EngineCacheTarball:
    """A Ray actor on the driver's node: the engine cache as a tarball, made on the first request."""

    def __init__(self, cache_dir: str) -> None:
        self._cache_dir = Path(cache_dir)
        self._tarball: bytes | None = None

    def tarball(self) -> bytes:
        if self._tarball is None:
            self._tarball = pack_engine_cache(self._cache_dir)
        return self._tarball


def _engine_cache_ready() -> bool:
    return is_installed() and python_packages_file().is_file()
