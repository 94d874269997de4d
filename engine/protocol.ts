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
};

export type CancelMessage = { type: "cancel" };

export type HostMessage = StartMessage | CancelMessage;

export type EventMessage = { type: "event"; event: LogEvent };

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

export type EngineMessage = EventMessage | ResultMessage | FatalMessage;

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
