// What llm_query sends (engine/repl/llm_query_arguments.py builds it), checked field by field. The
// REPL checks the same before sending, but a REPL process is untrusted: a malformed request fails
// that one llm_query with an AgentError, never the run (an instruction that is not a string would
// otherwise reach the log's agent_start line).
import { agentError } from "./errors.ts";
import type { JsonSchema } from "./protocol.ts";

export type ChildRequest = {
  data: unknown;
  instruction: string | null;
  model: string | null;
  schema: JsonSchema | null;
  // null: the caller did not say (the child inherits when inherit_tools / inherit_mcp is on);
  // []: the caller granted nothing.
  tools: string[] | null;
  mcp_servers: string[] | null;
  agent: string | null; // a name of run(agents={...})
  images: unknown; // checked (and hashed) by images.ts
  llm_kwargs: Record<string, unknown> | null; // names checked in run.ts, for the child's provider
};

export function parseChildRequest(payload: unknown): ChildRequest {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw malformed("the request is not an object");
  }
  const request = payload as Record<string, unknown>;
  if (!("data" in request)) throw malformed("it has no data");
  return {
    data: request.data,
    instruction: optionalString(request.instruction, "instruction"),
    model: optionalString(request.model, "model"),
    schema: optionalSchema(request.schema),
    tools: optionalNames(request.tools, "tools"),
    mcp_servers: optionalNames(request.mcp_servers, "mcp_servers"),
    agent: optionalString(request.agent, "agent"),
    images: request.images,
    llm_kwargs: optionalMapping(request.llm_kwargs, "llm_kwargs"),
  };
}

function malformed(problem: string): Error {
  return agentError(`malformed llm_query request: ${problem}`);
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw malformed(`${field} must be a string or null, not ${describe(value)}`);
  return value;
}

function optionalSchema(value: unknown): JsonSchema | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean" || (typeof value === "object" && !Array.isArray(value))) {
    return value as JsonSchema;
  }
  throw malformed(`schema must be a JSON Schema object or a boolean, not ${describe(value)}`);
}

function optionalNames(value: unknown, field: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((name) => typeof name === "string")) {
    throw malformed(`${field} must be a list of names, not ${describe(value)}`);
  }
  return value;
}

function optionalMapping(value: unknown, field: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw malformed(`${field} must be a dict, not ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "a list" : value === null ? "null" : `a ${typeof value}`;
}
