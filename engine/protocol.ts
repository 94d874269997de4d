// The messages between the Python host and this engine, one JSON object per line.
// Host -> engine on stdin: one StartMessage, then any number of host messages.
// Engine -> host on stdout: events while the run goes, then exactly one ResultMessage or FatalMessage.
// Nothing else is ever written to stdout: agent output is captured inside the workers.

import type { LogEvent } from "./log_events.ts";
import type { EngineConfig } from "./config.ts";
import type { Usage } from "./usage.ts";

export type StartMessage = {
  type: "start";
  run_id: string;
  // Echoed in every message to the host, which ignores lines without it: agent code never sees the
  // token, so nothing it manages to print can pass for the engine.
  protocol_token: string;
  config: EngineConfig;
  api_key: string;
  query: unknown;
  instruction: string | null;
  log_file: string;
  snapshot_file: string;
  output_schema: JsonSchema | null;
  tools: ToolSpec[];
  host_functions: FunctionSignature[];
  env_variables: Record<string, string>;
  mcp_servers: Record<string, McpServerSpec>;
};

export type JsonSchema = Record<string, unknown> | boolean;

// A user's Python function, as source the REPL can run (fast_rlm/tools.py extracts it).
export type ToolSpec = FunctionSignature & { source: string };

// What the agent is told about a function: `signature` is Python's, e.g. "(path: str) -> int".
export type FunctionSignature = { name: string; signature: string; doc: string };

// An MCP server, validated by fast_rlm/mcp_config.py: stdio (command) or streamable HTTP (url).
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

export type HostMessage = StartMessage | CancelMessage | HostResultMessage;

export type EventMessage = { type: "event"; event: LogEvent };

// Agent code called a host function: the host runs it and answers with a HostResultMessage.
export type HostCallMessage = {
  type: "host_call";
  call_id: number;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
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

export type EngineMessage = EventMessage | HostCallMessage | ResultMessage | FatalMessage;

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

function writeLine(json: string): void {
  const bytes = encoder.encode(json + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

// Reads newline-delimited JSON from stdin. Lines may be hundreds of MB (the query travels in the
// start message), so bytes are gathered in chunks and decoded once per line.
export async function* readHostMessages(): AsyncGenerator<HostMessage> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  for await (const chunk of Deno.stdin.readable) {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, newline));
      const line = decoder.decode(concatBytes(pending));
      pending = [];
      start = newline + 1;
      if (line.trim()) yield JSON.parse(line) as HostMessage;
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
