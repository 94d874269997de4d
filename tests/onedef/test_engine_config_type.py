"""The config fields are declared once, in fast_rlm/config.py (RLMConfig); the engine's EngineConfig
type (engine/config.ts) must name the same fields, with the TypeScript types of theirs."""

import types
import typing
from typing import Any

from pydantic import SecretStr
from pydantic.dataclasses import is_pydantic_dataclass

from fast_rlm.config import RLMConfig
from tests.onedef.engine_source import object_fields, type_fields

_SCALARS = {
    str: "string",
    SecretStr: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    Any: "unknown",
}


def typescript_of(annotation: Any) -> str:
    """The TypeScript type a value of this Python annotation has once sent as JSON."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        present = [argument for argument in arguments if argument is not type(None)]
        assert len(present) == 1, annotation
        return f"{typescript_of(present[0])} | null"
    if origin is list:
        return f"{typescript_of(arguments[0])}[]"
    if origin is dict:
        return f"Record<string, {typescript_of(arguments[1])}>"  # JSON keys are strings
    if is_pydantic_dataclass(annotation):
        inner = annotation.__pydantic_fields__
        return "{ " + "; ".join(f"{name}: {typescript_of(f.annotation)}" for name, f in inner.items()) + " }"
    raise AssertionError(f"no TypeScript type known for {annotation!r}: extend typescript_of")


def _normalised(ts_type: str) -> str:
    """A TS type with its object literals' fields listed the way typescript_of writes them."""
    if "{" not in ts_type:
        return ts_type
    head, _, rest = ts_type.partition("{")
    body, _, tail = rest.rpartition("}")
    inner = "; ".join(f"{name}: {_normalised(t)}" for name, t in object_fields(body).items())
    return f"{head}{{ {inner} }}{tail}"


def test_engine_config_type_mirrors_rlm_config():
    declared = RLMConfig.__pydantic_fields__
    # Every field that may be None set so: those the host resolves before sending (base URLs,
    # sub_agent) still reach the engine as values, and their TS type has no null.
    optional = {name for name, f in declared.items() if typescript_of(f.annotation).endswith(" | null")}
    unset = RLMConfig(**dict.fromkeys(optional)).engine_fields()
    expected = {}
    for name, value in unset.items():
        ts_type = typescript_of(declared[name].annotation)
        if value is not None and ts_type.endswith(" | null"):
            ts_type = ts_type.removesuffix(" | null")
        expected[name] = ts_type
    engine = {
        name: _normalised(ts_type) for name, ts_type in type_fields("config.ts", "EngineConfig").items()
    }
    assert sorted(engine) == sorted(expected), (
        "engine/config.ts and RLMConfig.engine_fields() differ in names"
    )
    assert engine == expected
