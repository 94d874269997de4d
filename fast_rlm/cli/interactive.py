"""`fast-rlm` with no query at a terminal: a session, one query per line, until Ctrl-D or `exit`.
Ctrl-C cancels the query running (its REPL keeps its last completed step) and asks for the next."""

from __future__ import annotations

import json
import sys
from typing import Any

from fast_rlm.errors import CancelledError, ConfigError, FastRLMError, QueryError
from fast_rlm.sessions.session import Session
from fast_rlm.watch.progress import failure_shown
from fast_rlm.watch.terminal_text import printable

PROMPT = "rlm> "
EXIT_WORDS = {"exit", "quit", ":q"}


def run_interactive(session: Session, run_arguments: dict[str, Any]) -> int:
    where = "an ephemeral session" if session.ephemeral else f"session {session.directory}"
    print(f"fast-rlm: {where}. One query per line; Ctrl-C cancels a query, Ctrl-D ends.", file=sys.stderr)
    with session:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                print(file=sys.stderr)
                return 0
            except KeyboardInterrupt:
                print(file=sys.stderr)
                continue  # at the prompt, Ctrl-C clears the line
            query = line.strip()
            if not query:
                continue
            if query in EXIT_WORDS:
                return 0
            try:
                result = session.query(query, **run_arguments)
            except (CancelledError, KeyboardInterrupt):
                print("fast-rlm: cancelled; the session goes on.", file=sys.stderr)
                continue
            except (ConfigError, QueryError):
                raise  # the same mistake would fail every query
            except FastRLMError as error:
                if not failure_shown(error, run_arguments["verbosity"]):
                    print(printable(f"fast-rlm: {type(error).__name__}: {error}"), file=sys.stderr)
                continue
            answer = result["results"]
            print(printable(answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)))
            sys.stdout.flush()
