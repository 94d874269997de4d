"""Turning `output_schema=` into a JSON Schema: a pydantic model class, a pydantic-compatible type
(list[Model], int, str, float, bool, list, dict, ...) or a JSON Schema dict."""

from __future__ import annotations

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
    try:
        return TypeAdapter(output_schema).json_schema()
    except Exception as error:  # pydantic raises several kinds for types it cannot describe
        raise OutputSchemaError(
            f"output_schema {output_schema!r} cannot be turned into a JSON Schema ({error}). Pass a pydantic "
            "model, a type such as list[Model] or int, or a JSON Schema dict."
        ) from None
