"""The time axis of a run's pictures (the viewer's timeline, `fast-rlm-log --render gantt-html`).

Both start at the run's first event and draw the same things: the engine's start (from run_start to
the first agent's start: REPL processes, the interpreter snapshot on a first run), and the gaps in
which no model call or code step ran anywhere in the tree (a REPL starting, a retry's wait), each
labelled with how long it lasted, so an empty stretch is not mistaken for work.
"""

from __future__ import annotations

from dataclasses import dataclass

from fast_rlm.logs.reader import LogIndex

# A stretch without activity is labelled as a gap from this share of the run and this many seconds:
# shorter ones are the ordinary pauses between a reply and its code.
GAP_MIN_SHARE = 0.05
GAP_MIN_S = 0.1


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RunTimeline:
    start: float  # the run's first event (its run_start)
    end: float  # its last event; a little after `start` for a log of one event
    engine_start: Span | None  # from run_start to the first agent_start
    gaps: list[Span]  # after the engine start: no model call or code step ran

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def run_timeline(index: LogIndex) -> RunTimeline:
    start = index.run_start.ts if index.run_start is not None else index.first_ts
    if start is None:
        return RunTimeline(0.0, 1e-3, None, [])
    end = max(index.last_ts or start, start + 1e-3)
    first_agent = min(
        (record.start_ts for record in index.agents.values() if record.start_ts is not None), default=None
    )
    # Kept when it is under the log's millisecond: the engine starts its REPL processes before it
    # logs run_start, so the root can start within the same millisecond.
    engine_start = (
        Span(start, first_agent)
        if index.run_start is not None and first_agent is not None and first_agent >= start
        else None
    )
    work_from = engine_start.end if engine_start is not None else start
    shortest = max(GAP_MIN_S, GAP_MIN_SHARE * (end - start))
    return RunTimeline(start, end, engine_start, _gaps(index, work_from, end, shortest))


def _gaps(index: LogIndex, work_from: float, end: float, shortest: float) -> list[Span]:
    """The stretches of at least `shortest` seconds between `work_from` and `end` that no model call
    or code step of any agent overlaps."""
    spans = sorted(
        (span_start, span_end)
        for record in index.agents.values()
        for span_start, span_end, _ in record.activity_spans()
    )
    gaps = []
    covered_to = work_from
    for span_start, span_end in [*spans, (end, end)]:
        if span_start - covered_to >= shortest:
            gaps.append(Span(covered_to, span_start))
        covered_to = max(covered_to, span_end)
    return gaps
