// The messages between the Python host and this engine, one JSON object per line.
// Host -> engine on stdin: one StartMessage, then any number of host messages.
// Engine -> host on stdout: events while the run goes, then exactly one ResultMessage or FatalMessage.
// Nothing else is ever written to stdout: agent output is captured inside the workers.

import type { LogEvent, RunStart } from "./log_events.ts";
import type { Recording } from "./recorded_replies.ts";
import type { EngineConfig } from "./config.ts";
import type { CallUsage, Usage } from "./usage.ts";
import type { NamedAgent } from "./routing.ts";
import type { ImageInput } from "./images.ts";
import type { KnownParameters } from "./models/call_parameters.ts";
import type { SessionStart, SessionStateMessage } from "./session_state.ts";

// "repl": the root is a REPL agent; "decompose": the root is a planner (planner.ts).
export type RunMode = "repl" | "decompose";

export type StartMessage = {
  type: "start";
  run_id: string;
  // Echoed in every message to the host, which ignores lines without it: agent code never sees the
  // token, so nothing it manages to print can pass for the engine.
  protocol_token: string;
  config: EngineConfig;
  api_key: string; // "" when no configured model uses the OpenAI-compatible endpoint
  anthropic_api_key: string; // "" when no configured model uses the Anthropic API
  query_frame: { bytes: number; is_text: boolean }; // the query follows this message on stdin
  instruction: string | null;
  mode: RunMode; // run(mode=...): "decompose" makes the root a planner
  log_file: string;
  snapshot_file: string;
  repl_launch: ReplLaunchPaths;
  output_schema: JsonSchema | null;
  tools: ToolSpec[];
  host_functions: FunctionSignature[];
  env_variables: Record<string, string>;
  // Provider options (temperature, seed, ..., extra_body) for every request, for the root's and for
  // the helpers' (models/call_parameters.ts merges them with an llm_query's own); the host has checked
  // their names against llm_kwargs_keys, the known keys and the providers that take each.
  llm_kwargs: Record<string, unknown>;
  root_llm_kwargs: Record<string, unknown>;
  sub_llm_kwargs: Record<string, unknown>;
  llm_kwargs_keys: KnownParameters;
  mcp_servers: Record<string, McpServerSpec>;
  // Models that are Python callables (run(models={...}) or run(model=fn)): called on the host.
  host_models: string[];
  agents: Record<string, NamedAgent>; // run(agents={...}), by name
  images: ImageInput[]; // run(images=[...]), read and typed by the host, for the root's first message
  session: SessionStart | null; // a session's query: the root's REPL carries on (session_state.ts)
  // An earlier run's replies to answer first (run(replay=...), resume, fork), or null.
  recording: Recording | null;
  // Written into run_start: the log this run resumes, or was forked from.
  lineage: Pick<RunStart, "resumed_from" | "forked_from">;
  // false: nothing on the host shows or hands on events as they come, so only run_end is sent.
  live_events: boolean;
};

// What the engine needs to start REPL processes (fast_rlm/host/engine_process.py fills it in).
export type ReplLaunchPaths = {
  deno_binary: string;
  config_file: string;
  lock_file: string;
  deno_dir: string;
  python_packages_file: string; // the zip of pure-Python packages REPL code can import
};

export type JsonSchema = Record<string, unknown> | boolean;

// A user's Python function, as source the REPL can run (fast_rlm/inputs/tools.py extracts it).
export type ToolSpec = FunctionSignature & { source: string };

// What the agent is told about a function: `signature` is Python's, e.g. "(path: str) -> int".
export type FunctionSignature = { name: string; signature: string; doc: string };

// An MCP server, validated by fast_rlm/inputs/mcp_config.py: stdio (command) or streamable HTTP (url).
export type McpServerSpec = {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  headers?: Record<string, string>;
};

// The host's answer to a HostCallMessage.
export type HostResultMessage = {
  type: "host_result";
  call_id: number;
  ok: boolean;
  value?: unknown;
  error?: ErrorInfo;
};

export type CancelMessage = { type: "cancel" };

// The host's answer to a ModelCallMessage: the Python model's reply, or what it raised.
export type ModelResultMessage = {
  type: "model_result";
  call_id: number;
  ok: boolean;
  content?: string;
  usage?: CallUsage | null; // null: the model returned text alone
  error?: ErrorInfo;
};

export type HostMessage = StartMessage | CancelMessage | HostResultMessage | ModelResultMessage;

export type EventMessage = { type: "event"; event: LogEvent };

// Agent code called a host function: the host runs it and answers with a HostResultMessage.
export type HostCallMessage = {
  type: "host_call";
  call_id: number;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
};

// An agent's model is a Python callable: the host calls it with the messages (OpenAI's format,
// images as data URLs) and the request parameters, and answers with a ModelResultMessage.
export type ModelCallMessage = {
  type: "model_call";
  call_id: number;
  model: string;
  messages: { role: string; content: unknown }[];
  llm_kwargs: Record<string, unknown>;
};

export type ErrorInfo = { type: string; message: string };

export type ResultMessage = {
  type: "result";
  results: unknown;
  usage: Usage;
};

export type FatalMessage = {
  type: "fatal";
  error: ErrorInfo;
  partial_results: unknown;
  usage: Usage;
};

export type EngineMessage =
  | EventMessage
  | HostCallMessage
  | ModelCallMessage
  | ResultMessage
  | FatalMessage
  | SessionStateMessage;

const encoder = new TextEncoder();
let protocolToken = "";

export function setProtocolToken(token: string): void {
  protocolToken = token;
}

export function sendToHost(message: EngineMessage): void {
  writeLine(JSON.stringify({ ...message, token: protocolToken }));
}

// For a log line already serialised (and redacted) by the log writer.
export function sendEventLine(eventJson: string): void {
  writeLine(`{"type":"event","token":${JSON.stringify(protocolToken)},"event":${eventJson}}`);
}

// Lines go out in order through one queue, those of one turn of the event loop in one write. A
// blocking write per line stalled every agent whenever the host read more slowly than the run
// logged: a fan-out of 1,000 logs 4,000 events, and the engine spent 3.3 s of a 8 s run (on a busy
// machine) waiting on a full pipe. Now the run goes on while the host catches up.
const toHost = Deno.stdout.writable.getWriter();
let queuedLines: string[] = [];
let flushing: Promise<void> | null = null;

function writeLine(json: string): void {
  queuedLines.push(json);
  flushing ??= Promise.resolve().then(flushLines);
}

async function flushLines(): Promise<void> {
  while (queuedLines.length > 0) {
    const batch = queuedLines;
    queuedLines = [];
    try {
      await toHost.write(encoder.encode(batch.join("\n") + "\n"));
    } catch {
      queuedLines = []; // the host is gone: nobody reads what is left
    }
  }
  flushing = null;
}

// Resolves once every line sent so far is written: the engine exits only after that.
export async function hostLinesWritten(): Promise<void> {
  while (flushing !== null) await flushing;
}

// Reads the host's messages from stdin: newline-delimited JSON, except that the start message is
// followed by the query as a raw frame of `query_frame.bytes` bytes (UTF-8 text, or JSON for a
// dict or list). A query of hundreds of MB then needs no JSON escaping on either side.
export class HostReader {
  private reader = Deno.stdin.readable.getReader();
  private buffered: Uint8Array = new Uint8Array(0);
  private decoder = new TextDecoder();

  // The next message, or null when stdin closes.
  async nextMessage(): Promise<HostMessage | null> {
    for (;;) {
      const newline = this.buffered.indexOf(10);
      if (newline !== -1) {
        const line = this.decoder.decode(this.buffered.subarray(0, newline));
        this.buffered = this.buffered.subarray(newline + 1);
        if (line.trim()) return JSON.parse(line) as HostMessage;
        continue;
      }
      if (!(await this.fill())) return null;
    }
  }

  async readFrame(length: number): Promise<Uint8Array> {
    const frame = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.buffered.length === 0 && !(await this.fill())) {
        throw new Error(`stdin closed after ${filled} of ${length} query bytes`);
      }
      const take = Math.min(length - filled, this.buffered.length);
      frame.set(this.buffered.subarray(0, take), filled);
      this.buffered = this.buffered.subarray(take);
      filled += take;
    }
    return frame;
  }

  private async fill(): Promise<boolean> {
    const { value, done } = await this.reader.read();
    if (done) return false;
    if (this.buffered.length === 0) {
      this.buffered = value;
    } else {
      const joined = new Uint8Array(this.buffered.length + value.length);
      joined.set(this.buffered);
      joined.set(value, this.buffered.length);
      this.buffered = joined;
    }
    return true;
  }
}
