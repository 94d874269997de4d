// Validating FINAL values against JSON Schemas (draft 2020-12, which pydantic emits; earlier drafts'
// common keywords too). Compiled validators are cached by schema text.
import type { Ajv2020, ValidateFunction } from "ajv/dist/2020.js";
import { EngineError } from "./errors.ts";
import type { JsonSchema } from "./protocol.ts";

const MAX_ERRORS_SHOWN = 10;

// Loaded on first use: most runs have no schema, and ajv costs about 50 ms of engine start.
let validatorFactory: Promise<Ajv2020> | null = null;
const compiled = new Map<string, ValidateFunction>();

export const schemaError = (message: string) => new EngineError("SchemaError", message);

function ajv(): Promise<Ajv2020> {
  validatorFactory ??= import("ajv/dist/2020.js").then(({ Ajv2020 }) =>
    new Ajv2020({ strict: false, allErrors: true, logger: false, validateFormats: false })
  );
  return validatorFactory;
}

async function validatorFor(schema: JsonSchema): Promise<ValidateFunction> {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    const factory = await ajv();
    try {
      validator = factory.compile(schema);
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
export async function checkSchema(schema: JsonSchema): Promise<void> {
  await validatorFor(schema);
}

// "path: message" for each way `value` breaks `schema`; empty when it conforms.
export async function schemaViolations(schema: JsonSchema, value: unknown): Promise<string[]> {
  const validator = await validatorFor(schema);
  if (validator(value)) return [];
  return (validator.errors ?? []).slice(0, MAX_ERRORS_SHOWN).map((error) => {
    const path = error.instancePath || "(the value itself)";
    const extra = error.keyword === "additionalProperties"
      ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
      : "";
    return `${path}: ${error.message}${extra}`;
  });
}
