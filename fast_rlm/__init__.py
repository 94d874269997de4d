"""fast-rlm: Recursive Language Models over a sandboxed, pooled Pyodide REPL."""

from fast_rlm import errors
from fast_rlm.config import RLMConfig
from fast_rlm.run import arun, run
from fast_rlm.session import Session

__all__ = ["RLMConfig", "Session", "arun", "errors", "run"]
