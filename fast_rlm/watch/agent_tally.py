"""What an agent's events add up to: model calls, tokens, cost, code steps, retries and host calls.

The one count of these, kept by the live view (fast_rlm/watch/live_progress.py) as events arrive and by the
log reader (fast_rlm/logs/reader.py) as it reads a log, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from fast_rlm.events import CodeStep, HostCall, LlmCall, LlmRetry, LogEvent


def cost_if_all_reported(cost: float, calls: int, calls_without_cost: int) -> float | None:
    """The summed cost, or None unless the provider reported it for every one of `calls` calls: a
    partial sum would understate what was spent, and a run without calls spent nothing we know of."""
    return None if calls == 0 or calls_without_cost > 0 else cost


@dataclass(kw_only=True)
class AgentTally:
    """Counters over one agent's events (or a whole run's: `count` takes any agent's)."""

    llm_calls: int = 0
    code_steps: int = 0
    retries: int = 0
    step_errors: int = 0
    host_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost: float = 0.0  # summed over the calls whose cost the provider reported
    calls_without_cost: int = 0

    def count(self, event: LogEvent) -> None:
        """Adds the event in; events that count nothing (agent_start, plan, ...) are ignored."""
        if isinstance(event, LlmCall):
            usage = event.usage
            self.llm_calls += 1
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.cached_tokens += usage.cached_tokens
            self.cache_write_tokens += usage.cache_write_tokens
            self.reasoning_tokens += usage.reasoning_tokens
            if usage.cost is None:
                self.calls_without_cost += 1
            else:
                self.reported_cost += usage.cost
        elif isinstance(event, CodeStep):
            self.code_steps += 1
            if event.error:
                self.step_errors += 1
        elif isinstance(event, LlmRetry):
            self.retries += 1
        elif isinstance(event, HostCall):
            self.host_calls += 1

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float | None:
        """None unless the provider reported the cost of every call (never a made-up 0)."""
        return cost_if_all_reported(self.reported_cost, self.llm_calls, self.calls_without_cost)
