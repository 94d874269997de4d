"""Reading the engine's TypeScript source from tests: its imports, a type's fields, a constant list."""

from __future__ import annotations

import re

from fast_rlm.host.resources import engine_dir

_RELATIVE_IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}/[^"]+)";""")


def engine_modules() -> dict[str, set[str]]:
    """Each engine module (a path relative to engine/) -> the engine modules it imports, types included."""
    root = engine_dir().resolve()
    graph: dict[str, set[str]] = {}
    for module in root.rglob("*.ts"):
        if "node_modules" in module.parts:
            continue
        imported = {
            (module.parent / target).resolve().relative_to(root).as_posix()
            for target in _RELATIVE_IMPORT.findall(module.read_text())
        }
        graph[module.relative_to(root).as_posix()] = imported
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    waiting = list(graph[start])
    while waiting:
        module = waiting.pop()
        if module not in seen:
            seen.add(module)
            waiting.extend(graph.get(module, ()))
    return seen


def engine_text(module: str) -> str:
    return (engine_dir() / module).read_text()


def _block_after(text: str, opening: str) -> str:
    """The text between `opening` (which ends with an opening bracket) and its matching close."""
    start = text.index(opening) + len(opening)
    depth = 1
    for index in range(start, len(text)):
        if text[index] in "{[(":
            depth += 1
        elif text[index] in "}])":
            depth -= 1
            if depth == 0:
                return text[start:index]
    raise ValueError(f"no end to {opening!r}")


def type_fields(module: str, type_name: str) -> dict[str, str]:
    """The fields of `export type <type_name> = { ... }` in an engine module: name -> TS type, with
    comments dropped and whitespace collapsed."""
    body = _block_after(engine_text(module), f"export type {type_name} = {{")
    return object_fields(body)


def object_fields(body: str) -> dict[str, str]:
    body = re.sub(r"//[^\n]*", "", body)
    fields: dict[str, str] = {}
    depth = 0
    current = ""
    for char in body + ";":
        if char in "{[(<":
            depth += 1
        elif char in "}])>":
            depth -= 1
        if char in ";," and depth == 0:
            if current.strip():
                name, _, field_type = current.partition(":")
                fields[name.strip()] = " ".join(field_type.split())
            current = ""
        else:
            current += char
    return fields


def string_list(module: str, constant: str) -> list[str]:
    """The strings of `export const <constant> = [ ... ]` in an engine module."""
    body = _block_after(engine_text(module), f"export const {constant} = [")
    return re.findall(r'"([^"]+)"', re.sub(r"//[^\n]*", "", body))
