// The merged run configuration, as validated and sent by the Python host (fast_rlm/config.py is the
// one definition of these fields; this type mirrors it).
export type EngineConfig = {
  primary_agent: string;
  sub_agent: string;
  // Depth (as a JSON key, "1", "2", ...) -> the model of the agents at that depth.
  models_by_depth: Record<string, string>;
  base_url: string;
  anthropic_base_url: string;
  prompt_caching: boolean;
  max_depth: number;
  max_steps: number | null; // planner mode: the most agents a tree may have
  max_calls_per_subagent: number;
  truncate_len: number;
  max_concurrency: number;
  workers: number;
  max_money_spent: number | null;
  max_completion_tokens: number | null;
  max_prompt_tokens: number | null;
  max_llm_calls: number | null;
  model_prices: Record<string, {
    prompt_per_million: number;
    completion_per_million: number;
    cached_prompt_per_million: number | null;
    cache_write_per_million: number | null;
  }>;
  llm_timeout_s: number;
  llm_max_retries: number;
  step_timeout_s: number;
  run_timeout_s: number | null;
  mcp_timeout_s: number;
  repl_memory_mb: number;
  max_value_mb: number;
  schema_timeout_s: number;
  inherit_tools: boolean;
  inherit_mcp: boolean;
  enable_tools: boolean;
  enable_structured_io: boolean;
  allow_net: string[]; // hosts REPL code may reach: "host" or "host:port"
  cache_dir: string | null; // the response cache's directory (absolute); null: no cache
};
