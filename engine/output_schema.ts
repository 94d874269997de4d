// Validating FINAL values against JSON Schemas (draft 2020-12, which pydantic emits; earlier drafts'
// common keywords too). Compiled validators are cached by schema text.
import { Ajv2020 } from "ajv/dist/2020.js";
import { EngineError } from "./errors.ts";
import type { JsonSchema } from "./protocol.ts";

const MAX_ERRORS_SHOWN = 10;

const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false, validateFormats: false });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

export const schemaError = (message: string) => new EngineError("SchemaError", message);

function validatorFor(schema: JsonSchema): ReturnType<typeof ajv.compile> {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    try {
      validator = ajv.compile(schema);
    } catch (error) {
      throw schemaError(
        `the schema is not a valid JSON Schema: ${error instanceof Error ? error.message : error}`,
      );
    }
    compiled.set(key, validator);
  }
  return validator;
}

// Throws SchemaError when the schema itself is invalid.
export function checkSchema(schema: JsonSchema): void {
  validatorFor(schema);
}

// "path: message" for each way `value` breaks `schema`; empty when it conforms.
export function schemaViolations(schema: JsonSchema, value: unknown): string[] {
  const validator = validatorFor(schema);
  if (validator(value)) return [];
  return (validator.errors ?? []).slice(0, MAX_ERRORS_SHOWN).map((error) => {
    const path = error.instancePath || "(the value itself)";
    const extra = error.keyword === "additionalProperties"
      ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
      : "";
    return `${path}: ${error.message}${extra}`;
  });
}
