"""`fast-rlm-log FILE`: the agent tree with per-agent stats and the run's statistics, the statistics
alone (`--stats`), the viewer (`--tui`), or a picture of the run
(`--render mermaid|dot|gantt-html -o OUT`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fast_rlm.errors import LogFileError, SessionStateError
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.render import RENDER_FORMATS, render
from fast_rlm.logs.session_report import format_session, is_session_dir, session_queries
from fast_rlm.logs.stats import format_report, format_stats_report
from fast_rlm.watch.terminal_text import printable

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-rlm-log",
        description="Inspect a fast-rlm run from its JSONL log: agent tree, stats, viewer, graphs.",
    )
    parser.add_argument(
        "log_file",
        metavar="FILE",
        help="a run's .jsonl log (run() returns it as log_file), or a session directory: its runs",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--stats",
        action="store_true",
        help="only the run's statistics (totals, tree shape, tokens, caps beside their use), no agent table",
    )
    mode.add_argument("--tui", action="store_true", help="open the interactive viewer")
    mode.add_argument(
        "--render",
        choices=RENDER_FORMATS,
        help="write the agent graph (mermaid, dot) or a self-contained HTML timeline (gantt-html)",
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="where --render writes (default: stdout)")
    parser.add_argument(
        "--follow",
        action="store_true",
        help="with --tui: start in follow mode, tailing a log still being written",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.output and not args.render:
        parser.error("-o/--output needs --render")
    if args.follow and not args.tui:
        parser.error("--follow needs --tui")
    if is_session_dir(Path(args.log_file)):
        return _session(Path(args.log_file), args.tui)
    try:
        index = LogIndex.open(args.log_file)
    except LogFileError as error:
        print(f"fast-rlm-log: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.tui:
        from tui import LogViewerApp  # Textual loads only when the viewer is asked for

        LogViewerApp(index, follow=args.follow).run()
        return EXIT_OK
    if args.render:
        text = render(index, args.render)
        for notice in index.notices:
            print(printable(f"fast-rlm-log: {args.log_file}: {notice}"), file=sys.stderr)
        if not args.output:
            sys.stdout.write(text)
            return EXIT_OK
        output = Path(args.output)
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"fast-rlm-log: cannot write {str(output)!r}: {error}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {output} ({args.render}, {len(index.agents)} agents)", file=sys.stderr)
        return EXIT_OK
    try:
        print(format_stats_report(index) if args.stats else format_report(index))
    except BrokenPipeError:  # `fast-rlm-log FILE | head`
        sys.stderr.close()
    return EXIT_OK


def _session(directory: Path, tui: bool) -> int:
    try:
        if not tui:
            print(format_session(directory))
            return EXIT_OK
        from tui import LogViewerApp
        from tui.session_list import SessionListApp  # Textual loads only when the viewer is asked for

        # The list, then the chosen run's viewer; leaving the viewer comes back to the list.
        while (chosen := SessionListApp(directory, session_queries(directory)).run()) is not None:
            LogViewerApp(LogIndex.open(chosen)).run()
        return EXIT_OK
    except (SessionStateError, LogFileError) as error:
        print(printable(f"fast-rlm-log: {error}"), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
