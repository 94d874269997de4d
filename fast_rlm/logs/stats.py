"""Per-agent and run statistics of an indexed log, and the text report `fast-rlm-log FILE` prints.

Cost is shown as "n/a" whenever the provider did not report it, never as a made-up 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from fast_rlm.events import ErrorInfo, RunStart
from fast_rlm.logs.reader import AgentRecord, LogIndex
from fast_rlm.watch.agent_tally import cost_if_all_reported
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import counted, format_caps, format_limits

NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class RunTotals:
    """The run's totals: from its run_end line when there is one, else summed over its agents."""

    status: str  # ok, error, cancelled, or "no run_end"
    agents: int
    llm_calls: int
    code_steps: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: float | None
    duration_s: float | None
    error: ErrorInfo | None
    from_run_end: bool


def run_totals(index: LogIndex) -> RunTotals:
    records = index.agents.values()
    code_steps = sum(record.code_steps for record in records)
    if index.run_end is not None:
        usage = index.run_end.usage
        return RunTotals(
            status=index.run_end.status,
            agents=usage.agents,
            llm_calls=usage.llm_calls,
            code_steps=code_steps,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost=usage.cost,
            duration_s=index.run_end.duration_s,
            error=index.run_end.error,
            from_run_end=True,
        )
    llm_calls = sum(record.llm_calls for record in records)
    unpriced = sum(record.calls_without_cost for record in records)
    elapsed = None
    if index.first_ts is not None and index.last_ts is not None:
        elapsed = index.last_ts - index.first_ts
    return RunTotals(
        status="no run_end",
        agents=len(index.agents),
        llm_calls=llm_calls,
        code_steps=code_steps,
        prompt_tokens=sum(record.prompt_tokens for record in records),
        completion_tokens=sum(record.completion_tokens for record in records),
        cached_tokens=sum(record.cached_tokens for record in records),
        cache_write_tokens=sum(record.cache_write_tokens for record in records),
        reasoning_tokens=sum(record.reasoning_tokens for record in records),
        cost=cost_if_all_reported(sum(record.reported_cost for record in records), llm_calls, unpriced),
        duration_s=elapsed,
        error=None,
        from_run_end=False,
    )


def format_cost(cost: float | None) -> str:
    return NOT_AVAILABLE if cost is None else f"${cost:.6f}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return NOT_AVAILABLE
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


def format_count(count: int) -> str:
    return f"{count:,}"


def cache_note(cached_tokens: int, cache_write_tokens: int) -> str:
    """ " (N cached, M written to cache)" for prompt tokens the provider's cache served or stored; ""
    when it reported none."""
    parts = [
        f"{format_count(count)} {kind}"
        for count, kind in ((cached_tokens, "cached"), (cache_write_tokens, "written to cache"))
        if count
    ]
    return f" ({', '.join(parts)})" if parts else ""


def format_totals(totals: RunTotals) -> str:
    """One line: what the run did and cost."""
    cost = format_cost(totals.cost)
    if totals.cost is None:
        cost += " (not reported by the provider)" if totals.llm_calls else ""
    duration = format_duration(totals.duration_s)
    if not totals.from_run_end and totals.duration_s is not None:
        duration += " so far"
    # Shown only when the provider reported some, so most runs' line stays short.
    details = ", ".join(
        f"{format_count(count)} {kind}"
        for count, kind in (
            (totals.cached_tokens, "cached"),
            (totals.cache_write_tokens, "written to cache"),
            (totals.reasoning_tokens, "reasoning"),
        )
        if count
    )
    return (
        f"{totals.status} in {duration}: {counted(totals.agents, 'agent')}, "
        f"{counted(totals.llm_calls, 'LLM call')}, {counted(totals.code_steps, 'code step')}, "
        f"{format_count(totals.prompt_tokens)} prompt + {format_count(totals.completion_tokens)} "
        f"completion tokens{f' ({details})' if details else ''}, cost {cost}"
    )


def tree_prefixes(index: LogIndex) -> list[tuple[str, str]]:
    """(agent id, the box-drawing prefix that draws it in a tree), depth first."""
    rows: list[tuple[str, str]] = []
    # (agent id, prefix of its children's lines, prefix of its own line), popped depth first.
    pending = [(root_id, "", "") for root_id in reversed(index.root_ids)]
    while pending:
        agent_id, lead, branch = pending.pop()
        rows.append((agent_id, branch))
        children = index.agents[agent_id].children
        for position in range(len(children) - 1, -1, -1):
            last = position == len(children) - 1
            pending.append(
                (children[position], lead + ("   " if last else "│  "), lead + ("└─ " if last else "├─ "))
            )
    return rows


STAT_COLUMNS = (
    "agent",
    "status",
    "depth",
    "model",
    "calls",
    "steps",
    "errors",
    "prompt",
    "completion",
    "cost",
    "time",
)


def agent_stat_cells(record: AgentRecord) -> tuple[str, ...]:
    """The stats columns of one agent, after the agent column."""
    return (
        record.status,
        str(record.depth),
        record.model_label,
        format_count(record.llm_calls),
        format_count(record.code_steps),
        format_count(record.step_errors),
        format_count(record.prompt_tokens),
        format_count(record.completion_tokens),
        format_cost(record.cost),
        format_duration(record.duration_s),
    )


def format_shape(index: LogIndex) -> str:
    """How the agents are arranged and how long the log is, e.g. "1 root agent, max depth 3; 52 log lines"."""
    roots = len(index.root_ids)
    depth = max((record.depth for record in index.agents.values()), default=None)
    deepest = NOT_AVAILABLE if depth is None else str(depth)
    return f"{counted(roots, 'root agent')}, max depth {deepest}; {counted(index.line_count, 'log line')}"


def caps_line(index: LogIndex, totals: RunTotals) -> str:
    """ "limits: " each run-wide cap beside what was used of it, from run_end; for a run that ended
    without reporting that (it crashed, or an older log), "caps: " the caps it had; "" if none."""
    limits = index.run_end.usage.limits if index.run_end is not None else None
    if limits:
        caps_used = {key: use.model_dump() for key, use in limits.items()}
        return "limits: " + format_limits(caps_used, totals.cost is not None)
    caps = format_caps(index.run_start.config) if index.run_start is not None else ""
    return "caps: " + caps if caps else ""


def format_stats(index: LogIndex) -> list[str]:
    """The run's statistics: totals, the tree's shape, tokens in all, each cap beside its use, what
    failed, and the log's notices."""
    totals = run_totals(index)
    lines = [
        "total: " + format_totals(totals),
        "tree: " + format_shape(index),
        f"tokens: {format_count(totals.prompt_tokens + totals.completion_tokens)} in all",
    ]
    caps = caps_line(index, totals)
    if caps:
        lines.append(caps)
    if totals.error is not None:
        lines.append(f"error: {totals.error.type}: {totals.error.message}")
    failed = [record for record in index.agents.values() if record.status == "failed" and record.error]
    for record in failed[:10]:
        lines.append(f"failed {record.agent_id}: {record.error.type}: {record.error.message}")
    if len(failed) > 10:
        lines.append(f"... and {len(failed) - 10} more failed agents")
    notices = index.notices
    if notices:
        lines += ["", "notices:"] + [f"  {notice}" for notice in notices]
    return lines


def format_header(index: LogIndex) -> list[str]:
    lines = [f"log: {index.path}"]
    if index.run_start is not None:
        lines.append(f"run {index.run_start.run_id[:8]}: query {index.run_start.query_preview[:60]!r}")
        origin = lineage(index.run_start)
        if origin is not None:
            lines.append(origin)
    return lines


def lineage(run_start: RunStart) -> str | None:
    """Where the run came from, when it was resumed or forked from another run's log."""
    if run_start.resumed_from is not None:
        return f"resumed from {run_start.resumed_from}"
    fork = run_start.forked_from
    if fork is not None:
        return f"forked from {fork.log} at {fork.at} step {fork.step}"
    return None


def format_agent_table(index: LogIndex) -> list[str]:
    """The agent tree, one row of stats per agent."""
    rows = [STAT_COLUMNS] + [
        (prefix + agent_id, *agent_stat_cells(index.agents[agent_id]))
        for agent_id, prefix in tree_prefixes(index)
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(STAT_COLUMNS))]
    numeric = {"depth", "calls", "steps", "errors", "prompt", "completion", "cost", "time"}
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if name in numeric else cell.ljust(width)
            for cell, width, name in zip(row, widths, STAT_COLUMNS, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    if len(rows) == 1:
        lines.append("(no agents)")
    return lines


def format_report(index: LogIndex) -> str:
    """The agent tree with per-agent stats, then the run's statistics (format_stats)."""
    lines = [*format_header(index), "", *format_agent_table(index), "", *format_stats(index)]
    # Once, on the whole report: models, queries, errors and agent ids come from the log.
    return printable("\n".join(lines))


def format_stats_report(index: LogIndex) -> str:
    """`fast-rlm-log FILE --stats`: the run's statistics without the per-agent table."""
    return printable("\n".join([*format_header(index), "", *format_stats(index)]))
