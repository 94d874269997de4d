"""Turning the user's Python functions into what the engine needs.

Tools (`tools=[fn]`) run inside the sandboxed REPL, so their source travels there: it must be
extractable, self-contained and free of closures. Host functions (`host_functions=[fn]`) run here
in the host process; only their name, signature and docstring travel.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import textwrap
import types
from collections.abc import Callable
from typing import Any

from fast_rlm.errors import ToolError

# Names every agent namespace has; a function may not take one.
RESERVED_NAMES = frozenset(
    {"context", "llm_query", "batch_llm_query", "FINAL", "LLMQueryError", "HostFunctionError"}
)


def _check_name(function: Any, kind: str) -> str:
    if not callable(function):
        raise ToolError(f"{kind} must be functions; got {type(function).__name__} {function!r}.")
    name = getattr(function, "__name__", "")
    if name == "<lambda>":
        raise ToolError(f"{kind} cannot be lambdas: give the function a name with `def`.")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ToolError(f"{kind}: {name!r} is not a usable function name.")
    if name in RESERVED_NAMES:
        raise ToolError(f"{kind}: the name {name!r} is taken by the REPL; rename the function.")
    return name


def _signature(function: Callable[..., Any]) -> str:
    try:
        # eval_str resolves string annotations (`from __future__ import annotations`) to types.
        return str(inspect.signature(function, eval_str=True))
    except (NameError, SyntaxError):
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(...)"


def tool_spec(function: Callable[..., Any]) -> dict[str, str]:
    """The function's own source, made runnable in the REPL: decorators dropped, the modules it uses
    imported at the top. Raises ToolError naming the fix when that cannot be done."""
    name = _check_name(function, "tools")
    if not isinstance(function, types.FunctionType):
        raise ToolError(f"tool {name!r} is not a plain Python function (a builtin, method or class?).")
    if function.__code__.co_freevars:
        raise ToolError(
            f"tool {name!r} is a closure over {', '.join(function.__code__.co_freevars)}: tools run in the "
            "sandbox without the outer state. Make it a module-level function that takes what it needs."
        )
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        raise ToolError(
            f"cannot read the source of tool {name!r}: functions defined in an interactive session or "
            "`python -c` have none. Define it in a .py file."
        ) from None
    definition = ast.parse(source).body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ToolError(f"tool {name!r}: its source is not a function definition.")
    definition.decorator_list = []
    imports = _module_imports(function, name)
    return {
        "name": name,
        "signature": _signature(function),
        "doc": inspect.getdoc(function) or "",
        "source": "\n".join([*imports, ast.unparse(definition)]),
    }


def _module_imports(function: types.FunctionType, name: str) -> list[str]:
    """`import x as y` for each module the function uses through a global; other globals are refused."""
    referenced = inspect.getclosurevars(function).globals
    imports = []
    for global_name, value in referenced.items():
        if isinstance(value, types.ModuleType):
            imports.append(f"import {value.__name__} as {global_name}")
        elif global_name != name:
            raise ToolError(
                f"tool {name!r} uses the global {global_name!r}, which does not exist in the sandbox. "
                "Define it inside the function, pass it as an argument, or register it as a tool too."
            )
    return imports


def host_function_spec(function: Callable[..., Any]) -> dict[str, str]:
    name = _check_name(function, "host_functions")
    return {"name": name, "signature": _signature(function), "doc": inspect.getdoc(function) or ""}


def check_unique(specs: list[dict[str, str]]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec["name"] in seen:
            raise ToolError(f"two tools or host functions are named {spec['name']!r}; names must be unique.")
        seen.add(spec["name"])
