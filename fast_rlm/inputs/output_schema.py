"""Turning `output_schema=` into a JSON Schema: a pydantic model class, a pydantic-compatible type
(list[Model], int, str, float, bool, list, dict, ...) or a JSON Schema dict."""

from __future__ import annotations

import typing
from typing import Any

import jsonschema
from pydantic import TypeAdapter

from fast_rlm.errors import OutputSchemaError


def to_json_schema(output_schema: Any) -> dict[str, Any] | None:
    if output_schema is None:
        return None
    if isinstance(output_schema, dict):
        validator = jsonschema.validators.validator_for(output_schema)
        try:
            validator.check_schema(output_schema)
        except jsonschema.SchemaError as error:
            path = "/".join(str(part) for part in error.absolute_path) or "(top level)"
            message = f"output_schema is not a valid JSON Schema at {path}: {error.message}"
            raise OutputSchemaError(message) from None
        return output_schema
    if not _names_a_type(output_schema):
        raise OutputSchemaError(
            f"output_schema={output_schema!r} is a value ({type(output_schema).__name__}), not a type. "
            f"{_ACCEPTED}{_literal_hint(output_schema)}"
        )
    try:
        return TypeAdapter(output_schema).json_schema()
    except Exception:  # pydantic raises several kinds for types it cannot describe; none helps here
        raise OutputSchemaError(
            f"output_schema={output_schema!r} has no JSON Schema: pydantic cannot describe this type. "
            "Make it a pydantic model, a dataclass or a TypedDict (typing_extensions.TypedDict before "
            f"Python 3.12). {_ACCEPTED}"
        ) from None


_ACCEPTED = "Pass a pydantic model class, a type such as list[Model], int or str, or a JSON Schema dict."


def _names_a_type(output_schema: Any) -> bool:
    """A class, a generic such as list[int] or a typing form such as Literal[...] or int | None; a
    string is a forward reference pydantic resolves."""
    return (
        isinstance(output_schema, (type, str))
        or typing.get_origin(output_schema) is not None
        or type(output_schema).__module__ in ("typing", "typing_extensions", "types")
    )


def _literal_hint(value: Any) -> str:
    if not isinstance(value, (list, set, tuple)) or not value:
        return ""
    items = list(value)
    if all(isinstance(item, type) for item in items):
        if len(items) == 1:
            return f" For a list of {items[0].__name__}, write list[{items[0].__name__}]."
        return f" For any of these types, write {' | '.join(item.__name__ for item in items)}."
    return f" For one of these values, write typing.Literal[{', '.join(map(repr, items))}]."
