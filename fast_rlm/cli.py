"""The `fast-rlm` command.

fast-rlm "query" [options]   run a query (results as JSON on stdout, progress on stderr)
fast-rlm demo                a recursive run on a built-in scripted model: no key, no network
fast-rlm setup               install the engine's dependencies into the cache now
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fast_rlm.config import read_config_file
from fast_rlm.demo import run_demo
from fast_rlm.deno_setup import deno_dir, install_engine_dependencies
from fast_rlm.errors import ConfigError, FastRLMError, QueryError
from fast_rlm.log_reader import LogIndex
from fast_rlm.log_stats import format_report
from fast_rlm.run import run
from fast_rlm.terminal_text import printable

EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2


def _query_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-rlm",
        description="Answer a query with a Recursive Language Model. Also: fast-rlm demo, fast-rlm setup.",
    )
    parser.add_argument("query", nargs="?", help="the query text (or the question about --input-file)")
    parser.add_argument("--input-file", help="a text or .json file that becomes `context`")
    parser.add_argument("--instruction", help="what the root agent should do with the context")
    parser.add_argument("--config", help="a YAML file of config keys (overrides ./rlm_config.yaml)")
    parser.add_argument("--prefix", help="log file name prefix")
    parser.add_argument("--log-dir", help="where the JSONL log goes (default ./logs)")
    parser.add_argument("--verbosity", default="summary", help="silent, summary or full (0, 1, 2)")
    return parser


def _run_query(argv: list[str]) -> int:
    args = _query_parser().parse_args(argv)
    verbosity = int(args.verbosity) if args.verbosity.isdigit() else args.verbosity
    config = read_config_file(Path(args.config)) if args.config else None
    result = run(
        args.query,
        prefix=args.prefix,
        config=config,
        instruction=args.instruction,
        input_file=args.input_file,
        verbosity=verbosity,
        log_dir=args.log_dir,
    )
    print(printable(json.dumps(result, indent=2, ensure_ascii=False)))
    return 0


def _demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fast-rlm demo", description="Run the built-in scripted demo.")
    parser.add_argument("--log-dir", help="where the demo's log goes (default ./logs)")
    args = parser.parse_args(argv)
    print("fast-rlm demo: a scripted model on 127.0.0.1 drives the real engine (no key, no network)\n")
    result = run_demo(log_dir=args.log_dir, verbosity=1)
    print(format_report(LogIndex.open(result["log_file"])))
    print(f"The scripted model answered {result['requests']} requests.")
    print("\nAnswer:")
    print(json.dumps(result["results"], indent=2))
    print(f"\nLog: {result['log_file']}\nInspect it: fast-rlm-log {result['log_file']} --tui")
    return 0


def _setup(argv: list[str]) -> int:
    install_engine_dependencies(force="--force" in argv)
    print(f"Engine dependencies installed in {deno_dir()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"demo": _demo, "setup": _setup}
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return _run_query(argv)
    except FastRLMError as error:
        print(printable(f"fast-rlm: {type(error).__name__}: {error}"), file=sys.stderr)
        if error.log_file:
            print(f"log: {error.log_file}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, (ConfigError, QueryError)) else EXIT_RUN_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
