"""Prompt caching and the native Anthropic client, end to end against the scripted model server.

    python benchmarks/prompt_caching.py               # a 20-call agent, then fan-out 100 on both clients
    python benchmarks/prompt_caching.py --calls 20 --fanout 100 --repeat 5

1. Caching: one agent makes --calls model calls on "anthropic:<model>" (the native Messages API) and
   on "anthropic/<model>" (an OpenRouter-style gateway passing cache_control on). The scripted server
   caches prompt prefixes as Anthropic does (fast_rlm/scripted/prompt_cache.py). Printed: the share of
   prompt tokens read from the cache, per call and over calls 2..N (target: at least 80%).
2. Client overhead: a fan-out of --fanout children, each one model call, on the OpenAI-compatible
   client and on the native Anthropic client; the median wall time of --repeat runs of each, measured
   around fast_rlm.run() (engine start included), after one untimed warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
if (CHECKOUT / "fast_rlm" / "__init__.py").is_file():
    sys.path.insert(0, str(CHECKOUT))

import fast_rlm  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, call_number, first_user_message, repl  # noqa: E402

CHILD_INSTRUCTION = "Return the square of the number in context."
NO_RUN_CAPS = dict.fromkeys(
    ("max_llm_calls", "max_prompt_tokens", "max_completion_tokens", "max_money_spent")
)
CACHED_SHARE_TARGET = 0.8


def long_agent(calls: int):
    """Prints a line of output on every call and calls FINAL on call `calls`."""

    def respond(request: dict[str, Any]) -> str:
        call = call_number(request)
        if call < calls:
            return repl(f"print('call {call}:', sum(range({call} * 1000)))")
        return repl("FINAL('done')")

    return respond


def fanout(request: dict[str, Any]) -> str:
    if CHILD_INSTRUCTION in first_user_message(request):
        return repl("FINAL(context * context)")
    return repl(f"FINAL(await batch_llm_query(*[llm_query(n, {CHILD_INSTRUCTION!r}) for n in context]))")


def provider_config(server: ScriptedModelServer, model: str, calls: int) -> dict[str, Any]:
    return {
        "primary_agent": model,
        "base_url": server.base_url,
        "api_key": "bench-key-openai",
        "anthropic_base_url": server.anthropic_base_url,
        "anthropic_api_key": "bench-key-anthropic",
        "max_calls_per_subagent": calls,
        "max_concurrency": 128,
        **NO_RUN_CAPS,
    }


def cached_share(usage: dict[str, Any]) -> tuple[int, int]:
    """(cached, prompt) tokens of one reply's usage block, in either wire format."""
    if "input_tokens" in usage:
        prompt = (
            usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
        )
        return usage["cache_read_input_tokens"], prompt
    return usage.get("prompt_tokens_details", {}).get("cached_tokens", 0), usage["prompt_tokens"]


def caching(calls: int, log_dir: str) -> None:
    print(f"Prompt caching: one agent, {calls} model calls")
    for label, model in (
        ("native anthropic:", "anthropic:claude-bench"),
        ("gateway anthropic/", "anthropic/claude-bench"),
    ):
        with ScriptedModelServer(long_agent(calls)) as server:
            result = fast_rlm.run(
                "q", config=provider_config(server, model, calls), verbosity=0, log_dir=log_dir
            )
            shares = [cached_share(usage) for usage in server.reported_usage]
        later_cached = sum(cached for cached, _ in shares[1:])
        later_prompt = sum(prompt for _, prompt in shares[1:])
        per_call = " ".join(f"{cached * 100 // max(prompt, 1)}%" for cached, prompt in shares)
        share = later_cached / max(later_prompt, 1)
        verdict = "meets" if share >= CACHED_SHARE_TARGET else "MISSES"
        print(f"  {label:20} calls 2..{len(shares)}: {share:.1%} of prompt tokens cached ({verdict} >= 80%)")
        print(f"  {'':20} per call: {per_call}")
        print(
            f"  {'':20} run usage: {result['usage']['prompt_tokens']:,} prompt, "
            f"{result['usage']['cached_tokens']:,} cached, {result['usage']['cache_write_tokens']:,} written"
        )


def fanout_wall(model: str, children: int, repeat: int, log_dir: str) -> list[float]:
    walls = []
    for _ in range(repeat):
        with ScriptedModelServer(fanout) as server:
            started = time.perf_counter()
            result = fast_rlm.run(
                list(range(children)), config=provider_config(server, model, 2), verbosity=0, log_dir=log_dir
            )
            walls.append(time.perf_counter() - started)
        assert result["results"] == [n * n for n in range(children)], "fan-out results are wrong"
    return walls


def client_overhead(children: int, repeat: int, log_dir: str) -> None:
    print(f"\nClient overhead: fan-out {children}, {repeat} runs each (median wall, min)")
    fanout_wall("openai-bench", 2, 1, log_dir)  # warm-up: engine cache and snapshot
    rows = []
    # Interleaved, so a change in machine load hits both clients alike.
    walls: dict[str, list[float]] = {"OpenAI-compatible": [], "native Anthropic": []}
    for _ in range(repeat):
        walls["OpenAI-compatible"] += fanout_wall("openai-bench", children, 1, log_dir)
        walls["native Anthropic"] += fanout_wall("anthropic:claude-bench", children, 1, log_dir)
    for label, times in walls.items():
        rows.append((label, statistics.median(times), min(times)))
        print(f"  {label:20} {statistics.median(times):6.2f} s   min {min(times):6.2f} s")
    spread = max(statistics.pstdev(times) for times in walls.values())
    difference = rows[1][1] - rows[0][1]
    print(f"  difference of medians: {difference:+.2f} s (run-to-run spread, stdev: {spread:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--fanout", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--log-dir", default=None, help="keep the JSONL logs here (default: a temp dir)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log_dir = arguments.log_dir or scratch
        caching(arguments.calls, log_dir)
        if arguments.fanout:
            client_overhead(arguments.fanout, arguments.repeat, log_dir)


if __name__ == "__main__":
    main()
