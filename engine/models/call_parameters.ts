// The llm_kwargs of a call: the run's, then its role's (root_llm_kwargs / sub_llm_kwargs), then the
// llm_query call's own, each layer overriding the one before it key by key; `extra_body` is merged
// the same way one level down. Names are checked against the host's one list of known keys
// (fast_rlm/inputs/llm_kwargs.py), which says which provider takes each.
import type { CallParameters } from "./client.ts";
import type { ProviderName } from "./model_names.ts";

export const EXTRA_BODY = "extra_body";

// Known key -> the providers that take it (from the start message).
export type KnownParameters = Record<string, ProviderName[]>;

export function mergeParameters(...layers: CallParameters[]): CallParameters {
  const merged: CallParameters = {};
  let extraBody: Record<string, unknown> | null = null;
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer)) {
      if (name === EXTRA_BODY) extraBody = { ...(extraBody ?? {}), ...(value as Record<string, unknown>) };
      else merged[name] = value;
    }
  }
  if (extraBody !== null) merged[EXTRA_BODY] = extraBody;
  return merged;
}

// Why these parameters cannot go to `provider`, or null when they can. A Python model (provider
// null) takes every known key as a keyword argument.
export function parameterProblem(
  parameters: CallParameters,
  provider: ProviderName | null,
  known: KnownParameters,
): string | null {
  for (const [name, value] of Object.entries(parameters)) {
    if (name === EXTRA_BODY) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return `llm_kwargs["extra_body"] must be a dict of request-body fields`;
      }
      continue;
    }
    if (!Object.hasOwn(known, name)) {
      return `unknown llm_kwargs key "${name}". Known keys: ${Object.keys(known).join(", ")}. ` +
        `Put a provider's other fields under llm_kwargs["extra_body"]; they are sent as they are.`;
    }
    if (provider !== null && !known[name].includes(provider)) {
      const takers = known[name].join(", ");
      return `llm_kwargs key "${name}" is taken by ${takers} models only, not by ${provider} ones; ` +
        `remove it, or send it under llm_kwargs["extra_body"]`;
    }
  }
  return null;
}

// The parameters spread into a request body: known keys, then the entries of extra_body.
export function bodyFields(parameters: CallParameters): Record<string, unknown> {
  const { [EXTRA_BODY]: extraBody, ...known } = parameters;
  return { ...known, ...(extraBody as Record<string, unknown> | undefined) };
}

// The parameters with `redact` applied to every string in them, keys included: an llm_query's
// llm_kwargs come from agent code, which may hold an env_variables value.
export function redactedParameters(
  parameters: CallParameters,
  redact: (text: string) => string,
): CallParameters {
  return redactedValue(parameters, redact) as CallParameters;
}

function redactedValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactedValue(item, redact));
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [redact(name), redactedValue(item, redact)]),
  );
}
