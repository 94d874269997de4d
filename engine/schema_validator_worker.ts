/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Compiles JSON Schemas and validates values against them, for output_schema.ts. Schemas come from
// agent code (llm_query(schema=...)), and one `pattern` can backtrack for hours on a short string,
// so this runs in its own worker where the main isolate can time it out and terminate it. Started
// with no permissions at all. Requests are answered one at a time, in the order they arrive.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

// A request: compile `schemaJson` and, unless `valueJson` is null, validate that value against it.
export type ValidatorRequest = { id: number; schemaJson: string; valueJson: string | null };

export type ValidatorAnswer =
  | { id: number; kind: "violations"; violations: string[] } // empty: the value conforms
  | { id: number; kind: "schema_invalid"; message: string };

const MAX_ERRORS_SHOWN = 10;
// Each distinct schema text costs a compiled function; an agent can send any number of them.
const MAX_CACHED_VALIDATORS = 256;

const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(schemaJson: string): ValidateFunction {
  let validator = compiled.get(schemaJson);
  if (!validator) {
    if (compiled.size >= MAX_CACHED_VALIDATORS) {
      compiled.clear();
      ajv.removeSchema(); // ajv keeps its own cache of every schema it compiled
    }
    validator = ajv.compile(JSON.parse(schemaJson));
    compiled.set(schemaJson, validator);
  }
  return validator;
}

// "path: message" for each way the value breaks the schema.
function violationsOf(validator: ValidateFunction, value: unknown): string[] {
  if (validator(value)) return [];
  return (validator.errors ?? []).slice(0, MAX_ERRORS_SHOWN).map((error) => {
    const path = error.instancePath || "(the value itself)";
    const extra = error.keyword === "additionalProperties"
      ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
      : "";
    return `${path}: ${error.message}${extra}`;
  });
}

function answer(request: ValidatorRequest): ValidatorAnswer {
  let validator: ValidateFunction;
  try {
    validator = validatorFor(request.schemaJson);
  } catch (error) {
    return {
      id: request.id,
      kind: "schema_invalid",
      message: error instanceof Error ? error.message : String(error),
    };
  }
  const violations = request.valueJson === null ? [] : violationsOf(validator, JSON.parse(request.valueJson));
  return { id: request.id, kind: "violations", violations };
}

self.onmessage = (event: MessageEvent<ValidatorRequest>) => {
  self.postMessage(answer(event.data));
};
