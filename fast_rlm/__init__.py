"""fast-rlm: Recursive Language Models over a sandboxed, pooled Pyodide REPL."""

from fast_rlm import errors, events
from fast_rlm.batch.run_batch import run_batch
from fast_rlm.config import RLMConfig
from fast_rlm.replay.resume_fork import fork, resume
from fast_rlm.run import arun, run
from fast_rlm.sessions.session import Session
from fast_rlm.stream import RunStream, stream

__all__ = [
    "RLMConfig",
    "RunStream",
    "Session",
    "arun",
    "errors",
    "events",
    "fork",
    "resume",
    "run",
    "run_batch",
    "stream",
]
