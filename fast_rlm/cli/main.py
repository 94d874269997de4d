"""The `fast-rlm` command.

fast-rlm "query" [options]   run a query (results as JSON on stdout, progress on stderr)
fast-rlm [options]           at a terminal, with no query: an interactive session
fast-rlm demo                a recursive run on a built-in scripted model: no key needed
fast-rlm setup               fetch the engine's packages and make the interpreter snapshot now (once)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from fast_rlm.cli.demo import run_demo
from fast_rlm.cli.interactive import run_interactive
from fast_rlm.config import RLMConfig
from fast_rlm.errors import ConfigError, FastRLMError, MissingAPIKeyError, QueryError
from fast_rlm.host.engine_setup import install_engine_dependencies
from fast_rlm.host.resources import cache_dir
from fast_rlm.host.setup_progress import SetupProgress
from fast_rlm.run import run
from fast_rlm.sessions.session import Session
from fast_rlm.watch.progress import failure_shown, open_progress
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import counted, format_usage
from fast_rlm.watch.verbosity import SILENT, SUMMARY

EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2


# Flags that set a config key, by the key they set: they win over --config and ./rlm_config.yaml.
CONFIG_FLAGS = ("primary_agent", "sub_agent", "max_depth", "max_calls_per_subagent", "max_llm_calls")

# The original fast-rlm's flags for backends and features this one does not have, and what to do instead.
_OPENAI_COMPATIBLE_ONLY = (
    "fast-rlm talks to models over an OpenAI-compatible HTTP API only (no ACP or CLI agent backends): "
    "pass a model name with --primary-agent/--sub-agent and point RLM_MODEL_BASE_URL (or base_url in "
    "--config) at its endpoint."
)
UNSUPPORTED_FLAGS = {
    "--acp-agents": _OPENAI_COMPATIBLE_ONLY,
    "--cli-agents": _OPENAI_COMPATIBLE_ONLY,
    "--cli-allow-api-key": _OPENAI_COMPATIBLE_ONLY,
    "--cli-minimal": _OPENAI_COMPATIBLE_ONLY,
    "--vertex": (
        "there is no Vertex AI routing: point RLM_MODEL_BASE_URL (or base_url in --config) at an "
        "OpenAI-compatible endpoint, such as Vertex AI's, with its key or access token in RLM_MODEL_API_KEY."
    ),
}
_SWITCHES = {"--cli-allow-api-key", "--cli-minimal", "--vertex"}  # take no value


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {number}")
        return number

    return parse


def _model_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a model name, e.g. 'openai/gpt-5-mini'")
    return text


_QUERY_EPILOG = """\
environment:
  RLM_MODEL_API_KEY   the model endpoint's key (OPENAI_API_KEY or OPENROUTER_API_KEY also work)
  RLM_MODEL_BASE_URL  an OpenAI-compatible endpoint (default: OpenRouter)
  ANTHROPIC_API_KEY   the key for models named anthropic:...

other commands:
  fast-rlm demo       a recursive run on a built-in scripted model: try it first, no key needed
  fast-rlm setup      fetch the engine's packages and make the interpreter snapshot now (once)
"""


# Whole-number config keys that have a flag: (flag, key, least value, what it limits).
_LIMIT_FLAGS = (
    ("--max-depth", "max_depth", 0, "how deep children may nest"),
    ("--max-calls", "max_calls_per_subagent", 1, "model calls per agent"),
    ("--max-global-calls", "max_llm_calls", 1, "model requests in the whole run, retries included"),
)


def _query_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-rlm",
        description="Answer a query with a Recursive Language Model.",
        epilog=_QUERY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", nargs="?", help="the query text (or the question about --input-file)")
    parser.add_argument("--input-file", help="a text or .json file that becomes `context`")
    parser.add_argument("--instruction", help="what the root agent should do with the context")
    parser.add_argument("--config", help="a YAML file of config keys (overrides ./rlm_config.yaml)")
    overrides = parser.add_argument_group("config keys (these win over --config and ./rlm_config.yaml)")
    overrides.add_argument(
        "--primary-agent",
        dest="primary_agent",
        type=_model_name,
        metavar="MODEL",
        help="the root agent's model",
    )
    overrides.add_argument(
        "--sub-agent", dest="sub_agent", type=_model_name, metavar="MODEL", help="the child agents' model"
    )
    for flag, key, minimum, meaning in _LIMIT_FLAGS:
        limit = _at_least(minimum)
        overrides.add_argument(flag, dest=key, type=limit, metavar="N", help=f"{meaning} ({key})")
    parser.add_argument("--prefix", help="log file name prefix")
    parser.add_argument("--log-dir", help="where the JSONL log goes (default ./logs)")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the answer (a string as is, else JSON); no progress on stderr",
    )
    parser.add_argument("--verbosity", help="silent, summary (default) or full, or 0, 1, 2; wins over -q")
    sessions = parser.add_argument_group("sessions (the root's REPL carries on from query to query)")
    sessions.add_argument(
        "--session-dir", help="a session's directory (created if missing); state kept there"
    )
    sessions.add_argument("--session-id", help="a session's name within --session-dir")
    sessions.add_argument(
        "--no-session-code",
        action="store_true",
        help="do not show the root the code of the session's earlier queries",
    )
    for flag in UNSUPPORTED_FLAGS:  # accepted only to say what to use instead
        if flag in _SWITCHES:
            parser.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
        else:
            parser.add_argument(flag, help=argparse.SUPPRESS)
    return parser


def _run_query(argv: list[str]) -> int:
    parser = _query_parser()
    args = parser.parse_args(argv)
    for flag, instead in UNSUPPORTED_FLAGS.items():
        if getattr(args, flag.removeprefix("--").replace("-", "_")) not in (None, False):
            parser.error(f"{flag} is not supported: {instead}")
    verbosity = args.verbosity or ("silent" if args.quiet else None)
    if verbosity is not None and verbosity.isdigit():
        verbosity = int(verbosity)
    # The file's errors name the file; a flag set afterwards wins over its key (either name of it).
    config = RLMConfig.from_yaml(args.config) if args.config else RLMConfig()
    for key in CONFIG_FLAGS:
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.session_id is not None and args.session_dir is None:
        parser.error("--session-id needs --session-dir (the directory the session lives in).")
    if args.query is not None and not args.query.strip():
        parser.error(
            'the query is empty: pass the question as text (fast-rlm "What is 2 + 2?"), or run '
            "fast-rlm with no query at a terminal for an interactive session."
        )
    arguments = {
        "prefix": args.prefix,
        "config": config,
        "instruction": args.instruction,
        "verbosity": verbosity,
        "log_dir": args.log_dir,
        "add_session_code_to_context": not args.no_session_code,
    }
    if args.query is None and args.input_file is None and sys.stdin.isatty():
        return run_interactive(Session(args.session_id, args.session_dir), arguments)
    try:
        result = run(
            args.query,
            input_file=args.input_file,
            session_dir=args.session_dir,
            session_id=args.session_id,
            **arguments,
        )
    except FastRLMError as error:
        if not failure_shown(error, verbosity):
            raise  # main() says what went wrong
        return exit_code_of(error)
    if args.quiet:  # only the answer, for pipes: a string as it is, anything else as JSON
        answer = result["results"]
        print(printable(answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)))
    else:
        print(printable(json.dumps(result, indent=2, ensure_ascii=False)))
    return 0


def _demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fast-rlm demo", description="Run the built-in scripted demo.")
    parser.add_argument("--log-dir", help="where the demo's log goes (default ./logs)")
    args = parser.parse_args(argv)
    print(
        "fast-rlm demo: a scripted model on 127.0.0.1 drives the real engine "
        "(no key needed; offline after the first set-up)\n"
    )
    # The demo draws the run's progress itself so that it ends without the run's own closing lines:
    # the tree is shown once (live, or a line per agent) and the log path once, last.
    with open_progress(SUMMARY) as progress:
        result = run_demo(log_dir=args.log_dir, verbosity=SILENT, on_event=progress.show)
    print(f"done: {format_usage(result['usage'])}")
    print(f"The scripted model answered {counted(result['requests'], 'request')}.")
    print("\nAnswer:")
    print(json.dumps(result["results"], indent=2))
    print(f"\nInspect the run: fast-rlm-log {result['log_file']} --tui")
    return 0


def _setup(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fast-rlm setup",
        description="Fetch the engine's packages and make the interpreter snapshot into the cache, once; "
        "after that every run works offline. The first run does this by itself when it has not been done.",
    )
    parser.add_argument("--force", action="store_true", help="fetch and make everything again")
    args = parser.parse_args(argv)
    install_engine_dependencies(force=args.force, progress=SetupProgress.on_stderr())
    print(f"fast-rlm is set up in {cache_dir()}: runs work offline from now on.")
    return 0


def exit_code_of(error: FastRLMError) -> int:
    return EXIT_BAD_INPUT if isinstance(error, (ConfigError, QueryError)) else EXIT_RUN_FAILED


def _missing_key_advice(error: MissingAPIKeyError) -> str:
    """What a shell user types next: the key to export, or the demo, which needs none."""
    return (
        f"fast-rlm: no API key for the model. Set it in your shell:\n"
        f"  export {error.variable}=<your key>\n"
        "then run the query again. To see fast-rlm work without a key first: fast-rlm demo"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"demo": _demo, "setup": _setup}
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return _run_query(argv)
    except MissingAPIKeyError as error:
        print(_missing_key_advice(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    except FastRLMError as error:
        print(printable(f"fast-rlm: {type(error).__name__}: {error}"), file=sys.stderr)
        if error.log_file:
            print(f"log: {error.log_file}", file=sys.stderr)
        return exit_code_of(error)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
