// Which model a child agent runs on, and the named agents (run(agents={...})) a parent may start.
// Precedence, first found wins: llm_query(..., model=...), the named agent's model
// (llm_query(..., agent=...)), models_by_depth[depth], sub_agent (itself primary_agent when unset).
import type { EngineConfig } from "./config.ts";
import type { ToolSpec } from "./protocol.ts";

// A named agent as fast_rlm/inputs/named_agents.py sends it: `instruction` says what it is for (the
// parent's prompt lists it) and is given to every agent started under the name.
export type NamedAgent = { model: string | null; instruction: string; tools: ToolSpec[] };

export function childModel(
  config: EngineConfig,
  depth: number,
  requestedModel: string | null,
  namedAgent: NamedAgent | null,
): string {
  return requestedModel ?? namedAgent?.model ?? depthModel(config, depth) ?? config.sub_agent;
}

function depthModel(config: EngineConfig, depth: number): string | null {
  const key = String(depth);
  return Object.hasOwn(config.models_by_depth, key) ? config.models_by_depth[key] : null;
}

// Every model the config names for some agent, without those llm_query may name at run time.
export function configuredModels(
  config: EngineConfig,
  namedAgents: Record<string, NamedAgent> = {},
): string[] {
  const models = new Set([config.primary_agent, config.sub_agent, ...Object.values(config.models_by_depth)]);
  for (const agent of Object.values(namedAgents)) if (agent.model !== null) models.add(agent.model);
  return [...models];
}
