"""llm_query hands its arguments to child_request as one record (engine/repl/llm_query_arguments.py
LlmQueryCall), built by name: the record's fields are llm_query's parameters, and nothing is passed
by position, where one argument added or moved would shift every one after it."""

import ast

from fast_rlm.host.resources import engine_dir


def _module(name: str) -> ast.Module:
    return ast.parse((engine_dir() / "repl" / name).read_text())


def _function(module: ast.Module, name: str) -> ast.FunctionDef:
    return next(node for node in ast.walk(module) if isinstance(node, ast.FunctionDef) and node.name == name)


def test_child_request_takes_the_call_as_one_record_of_llm_querys_parameters():
    arguments = _module("llm_query_arguments.py")
    record = next(
        node for node in arguments.body if isinstance(node, ast.ClassDef) and node.name == "LlmQueryCall"
    )
    fields = [node.target.id for node in record.body if isinstance(node, ast.AnnAssign)]
    assert [arg.arg for arg in _function(arguments, "child_request").args.args] == ["call", "agent_names"]

    runtime = _module("runtime.py")
    llm_query = _function(runtime, "llm_query").args
    assert llm_query.vararg is not None
    parameters = [llm_query.args[0].arg, "positional", *(arg.arg for arg in llm_query.kwonlyargs)]
    assert fields == parameters

    built = [
        node
        for node in ast.walk(_function(runtime, "llm_query"))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LlmQueryCall"
    ]
    assert len(built) == 1 and built[0].args == []
    assert [keyword.arg for keyword in built[0].keywords] == fields
