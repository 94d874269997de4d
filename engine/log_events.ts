// The JSONL log schema, version 1: one definition of every event type the engine writes.
// The README's "Log schema" section documents it; fast_rlm/events.py mirrors it in Python.
import type { CallUsage, Usage } from "./usage.ts";
import type { ErrorInfo, JsonSchema } from "./protocol.ts";
import type { RunMode } from "./run.ts";
import type { ImageRecord, LoggedMessage } from "./chat_message.ts";
import type { AgentRole } from "./agent.ts";

export const LOG_SCHEMA_VERSION = 1;

type Common = { v: 1; ts: number; run_id: string };

export type RunStart = Common & {
  event: "run_start";
  config: Record<string, unknown>;
  query_type: string;
  query_chars: number;
  query_preview: string;
  instruction: string | null;
  workers: number;
  // Models with no model_prices entry while max_money_spent is set (pricing.ts); may be absent in
  // logs written before it existed.
  unpriced_models: string[];
  // What replay, resume and fork need to run the same query again (absent in older logs): the
  // query itself (when it is at most RECORDED_QUERY_BYTES as sent), its SHA-256 always, the mode,
  // the output schema and the provider options.
  query?: unknown;
  query_sha256?: string;
  mode?: RunMode;
  output_schema?: JsonSchema | null;
  llm_kwargs?: { run: Record<string, unknown>; root: Record<string, unknown>; sub: Record<string, unknown> };
  // Lineage: the log this run resumed, or the log, agent and step it was forked from.
  resumed_from?: string;
  forked_from?: { log: string; at: string; step: number };
};

export type AgentStart = Common & {
  event: "agent_start";
  agent_id: string;
  parent_id: string | null;
  depth: number;
  model: string;
  agent?: string; // the name it was started under (run(agents={...})), if any
  // Planner mode only: "plan" (the root task's planner), "subtask" (a sub-task's planner), "execute"
  // (the REPL agent doing a task), "synthesis" (the REPL agent combining sub-tasks' answers).
  role?: AgentRole;
  images?: ImageRecord[]; // shown with its first message, if any
  instruction: string | null;
  context_type: string;
  context_chars: number;
  context_preview: string;
};

export type LlmCall = Common & {
  event: "llm_call";
  agent_id: string;
  call: number;
  model: string;
  // Messages added since this agent's previous call: the full prompt is the concatenation.
  new_messages: LoggedMessage[];
  completion: string; // what the model said, its reasoning removed
  // The reasoning the reply carried (reasoning fields, thinking parts, leading <think> blocks); null
  // when none. Never sent back to the model.
  reasoning: string | null;
  finish_reason: string | null; // as the provider gave it: "length" means the reply was cut
  usage: CallUsage;
  duration_s: number;
  attempts: number; // 0 when no request was sent (cached or replayed)
  cached?: true; // answered by the response cache (config cache_dir): it cost nothing
  replayed?: true; // answered by the recording of an earlier run (replay, resume, fork)
};

export type LlmRetry = Common & {
  event: "llm_retry";
  agent_id: string;
  call: number;
  attempt: number;
  reason: string;
  wait_s: number;
};

export type CodeStep = Common & {
  event: "code_step";
  agent_id: string;
  step: number;
  code: string | null;
  stdout: string;
  stderr: string;
  error: string | null;
  final: boolean;
  duration_s: number;
};

// Planner mode: a planner's decision, written once its reply validated. The executor (execute) or
// the sub-tasks, in order, and then the synthesis (recurse) are its children "<agent_id>.0", ".1", ...
export type Plan = Common & {
  event: "plan";
  agent_id: string;
  action: "execute" | "recurse";
  reason: string | null;
  subtasks: { task: string; agent: string | null }[];
};

export type HostCall = Common & {
  event: "host_call";
  agent_id: string;
  name: string;
  ok: boolean;
  error?: ErrorInfo;
  duration_s: number;
};

export type AgentEnd = Common & {
  event: "agent_end";
  agent_id: string;
  status: "done" | "failed";
  result?: unknown;
  error?: ErrorInfo;
  llm_calls: number;
  duration_s: number;
};

export type RunEnd = Common & {
  event: "run_end";
  status: "ok" | "error" | "cancelled";
  results?: unknown;
  error?: ErrorInfo;
  usage: Usage;
  duration_s: number;
};

export type LogEvent =
  | RunStart
  | AgentStart
  | LlmCall
  | LlmRetry
  | CodeStep
  | Plan
  | HostCall
  | AgentEnd
  | RunEnd;

// An event without the fields the writer fills in (distributes over the union).
export type EventBody = LogEvent extends infer E ? E extends LogEvent ? Omit<E, "v" | "ts" | "run_id"> : never
  : never;
