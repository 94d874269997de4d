"""Pictures of a run from its indexed log: the agent graph (Mermaid, Graphviz dot) and a timeline of
agents over time as one self-contained HTML file (inline CSS and SVG; no script, no network)."""

from __future__ import annotations

import html

from fast_rlm.logs.reader import ACTIVITY_LLM, AgentRecord, LogIndex
from fast_rlm.logs.stats import format_cost, format_duration, format_totals, run_totals
from fast_rlm.logs.timeline import RunTimeline, Span, run_timeline
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import counted

RENDER_FORMATS = ("mermaid", "dot", "gantt-html")
STATUS_COLOURS = {
    "done": "#2e7d32",
    "failed": "#c62828",
    "running": "#f9a825",
    "cancelled": "#ef6c00",
    "unfinished": "#757575",
}
STATUS_FILLS = {
    "done": "#e8f5e9",
    "failed": "#ffebee",
    "running": "#fff8e1",
    "cancelled": "#fff3e0",
    "unfinished": "#eeeeee",
}


def node_summary(record: AgentRecord) -> list[str]:
    """The lines that describe an agent in a graph node."""
    return [
        record.agent_id,
        f"{record.status} · {record.model_label}",
        f"{counted(record.llm_calls, 'call')} · {counted(record.code_steps, 'step')} · "
        f"cost {format_cost(record.cost)}",
        f"time {format_duration(record.duration_s)}",
    ]


def render_mermaid(index: LogIndex) -> str:
    node_ids = {agent_id: f"a{position}" for position, agent_id in enumerate(index.tree_order())}
    lines = ["flowchart TD"]
    for agent_id, node_id in node_ids.items():
        label = "<br/>".join(_mermaid_text(part) for part in node_summary(index.agents[agent_id]))
        lines.append(f'    {node_id}["{label}"]')
    for agent_id, node_id in node_ids.items():
        for child in index.agents[agent_id].children:
            lines.append(f"    {node_id} --> {node_ids[child]}")
    for status, colour in STATUS_COLOURS.items():
        lines.append(f"    classDef {status} fill:{STATUS_FILLS[status]},stroke:{colour},color:#000")
    for status in STATUS_COLOURS:
        members = [node_ids[agent_id] for agent_id in node_ids if index.agents[agent_id].status == status]
        if members:
            lines.append(f"    class {','.join(members)} {status}")
    return "\n".join(lines) + "\n"


MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def _mermaid_text(text: str) -> str:
    """Mermaid's own entity syntax (#name; or #code;) for what would end or break a label."""
    return "".join(MERMAID_ESCAPES.get(character, character) for character in text)


def render_dot(index: LogIndex) -> str:
    lines = [
        "digraph run {",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for agent_id in index.tree_order():
        record = index.agents[agent_id]
        label = "\\n".join(_dot_text(part) for part in node_summary(record))
        lines.append(
            f'    "{_dot_text(agent_id)}" [label="{label}", '
            f'color="{STATUS_COLOURS[record.status]}", fillcolor="{STATUS_FILLS[record.status]}"];'
        )
    for agent_id in index.tree_order():
        for child in index.agents[agent_id].children:
            lines.append(f'    "{_dot_text(agent_id)}" -> "{_dot_text(child)}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


ROW_HEIGHT = 22
LABEL_WIDTH = 260
CHART_WIDTH = 900
AXIS_HEIGHT = 28

LLM_COLOUR, CODE_COLOUR = "#1565c0", "#6a1b9a"
GANTT_CSS = (
    """
body { font-family: system-ui, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 18px; margin: 0 0 4px; }
p.totals { margin: 0 0 12px; color: #424242; }
.legend span { display: inline-block; margin-right: 16px; font-size: 13px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg text { font-size: 12px; font-family: ui-monospace, monospace; }
.lifetime { opacity: 0.35; }
.done { fill: #2e7d32; } .failed { fill: #c62828; } .running { fill: #f9a825; }
.cancelled { fill: #ef6c00; } .unfinished { fill: #757575; }
.axis line { stroke: #bdbdbd; } .axis text { fill: #616161; font-size: 11px; }
rect.engine-start { fill: #9e9e9e; opacity: 0.25; } rect.gap { fill: url(#idle); }
.engine-start text, .gap text { fill: #424242; font-size: 11px; }
"""
    + f".llm {{ fill: {LLM_COLOUR}; }} .code {{ fill: {CODE_COLOUR}; }}\n"
)


def render_gantt_html(index: LogIndex) -> str:
    """Agents over time from the run's first event: the engine's start and the gaps in which nothing
    ran (fast_rlm/logs/timeline.py) on a line of their own, then one row per agent (tree order), its
    lifetime coloured by status, its model calls and code steps drawn on top. Hover shows details
    (SVG <title>, no script)."""
    order = index.tree_order()
    axis = run_timeline(index)
    start, span = axis.start, axis.duration_s

    def x_of(ts: float) -> float:
        return LABEL_WIDTH + (ts - start) / span * CHART_WIDTH

    # The first row holds the labels of the engine start (in the label column: it is often a sliver)
    # and of the gaps; the agents' rows follow.
    first_agent_y = AXIS_HEIGHT + ROW_HEIGHT
    height = first_agent_y + ROW_HEIGHT * len(order) + 8
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + CHART_WIDTH + 20}" height="{height}" '
        'role="img" aria-label="agents over time">',
        '<defs><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect class="hatch" width="2" height="6" fill="#bdbdbd"/>'
        "</pattern></defs>",
    ]
    for css_class, words, stretch in _quiet_stretches(axis):
        x, width = x_of(stretch.start), max(x_of(stretch.end) - x_of(stretch.start), 1)
        text_x = 4 if css_class == "engine-start" else x + 3
        svg.append(
            f'<g class="{css_class}"><rect class="{css_class}" x="{x:.2f}" y="{AXIS_HEIGHT - 6}" '
            f'width="{width:.2f}" height="{height - AXIS_HEIGHT + 6}"><title>{words}</title></rect>'
            f'<text x="{text_x:.2f}" y="{AXIS_HEIGHT + 15}">{words}</text></g>'
        )
    svg.append('<g class="axis">')
    for tick in range(11):
        x = LABEL_WIDTH + tick * CHART_WIDTH / 10
        svg.append(f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x:.1f}" y2="{height}"/>')
        svg.append(
            f'<text x="{x:.1f}" y="{AXIS_HEIGHT - 10}" text-anchor="middle">{span * tick / 10:.2f}s</text>'
        )
    svg.append("</g>")
    for row, agent_id in enumerate(order):
        record = index.agents[agent_id]
        y = first_agent_y + row * ROW_HEIGHT
        agent_start = record.start_ts if record.start_ts is not None else start
        agent_end = record.end_ts if record.end_ts is not None else axis.end
        svg.append(f'<g class="agent" data-agent="{html.escape(agent_id)}" data-status="{record.status}">')
        svg.append(
            f'<text x="{4 + 12 * record.depth}" y="{y + 15}">{html.escape(agent_id)}</text>'
            f'<rect class="lifetime {record.status}" x="{x_of(agent_start):.2f}" y="{y + 3}" '
            f'width="{max(x_of(agent_end) - x_of(agent_start), 1):.2f}" height="{ROW_HEIGHT - 6}">'
            f"<title>{html.escape(_agent_tooltip(record))}</title></rect>"
        )
        for span_start, span_end, kind in record.activity_spans():
            name = "llm" if kind == ACTIVITY_LLM else "code"
            label = "model call" if kind == ACTIVITY_LLM else "code step"
            svg.append(
                f'<rect class="{name}" x="{x_of(span_start):.2f}" y="{y + 6}" '
                f'width="{max(x_of(span_end) - x_of(span_start), 1):.2f}" height="{ROW_HEIGHT - 12}">'
                f"<title>{html.escape(agent_id)} {label}: {span_end - span_start:.3f} s</title></rect>"
            )
        svg.append("</g>")
    svg.append("</svg>")

    title = (
        f"fast-rlm run {index.run_start.run_id[:8]}" if index.run_start else f"fast-rlm log {index.path.name}"
    )
    notices = "".join(f"<li>{html.escape(str(notice))}</li>" for notice in index.notices)
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{label}</span>'
        for colour, label in (
            (STATUS_COLOURS["done"], "agent done"),
            (STATUS_COLOURS["failed"], "agent failed"),
            (STATUS_COLOURS["running"], "no agent_end yet"),
            (STATUS_COLOURS["cancelled"], "working when the run was cancelled"),
            (LLM_COLOUR, "model call"),
            (CODE_COLOUR, "code step"),
        )
    )
    legend += '<span><i style="background:#bdbdbd"></i>engine starting, or nothing running</span>'
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{GANTT_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="totals">{html.escape(format_totals(run_totals(index)))}</p>',
            f'<div class="legend">{legend}</div>',
            "\n".join(svg),
            f'<ul class="notices">{notices}</ul>' if notices else "",
            "</body>",
            "</html>",
            "",
        ]
    )


def _quiet_stretches(axis: RunTimeline) -> list[tuple[str, str, Span]]:
    """(CSS class, label, span) of the engine's start and of each gap, measured from the run's start."""
    stretches = []
    if axis.engine_start is not None:
        stretches.append(
            (
                "engine-start",
                f"engine start {format_duration(axis.engine_start.duration_s)}",
                axis.engine_start,
            )
        )
    for gap in axis.gaps:
        at = format_duration(gap.start - axis.start)
        stretches.append(("gap", f"{format_duration(gap.duration_s)} idle (from {at})", gap))
    return stretches


def _agent_tooltip(record: AgentRecord) -> str:
    parts = [*node_summary(record)]
    if record.instruction:
        parts.append(f"instruction: {record.instruction[:200]}")
    if record.error is not None:
        parts.append(f"error: {record.error.type}: {record.error.message[:300]}")
    return "\n".join(parts)


def render(index: LogIndex, format_name: str) -> str:
    renderers = {"mermaid": render_mermaid, "dot": render_dot, "gantt-html": render_gantt_html}
    # Once, on the whole picture: it may go to a terminal (no -o), and a bidi override reorders an
    # HTML page as it does a terminal line. The stand-ins need no escaping in any of the formats.
    return printable(renderers[format_name](index))
