// Writes the run's JSONL log: one event a line, each line flushed as written (writeSync on an
// unbuffered file), and mirrors every event to the host for live progress, or only run_end when
// the host has nobody to show events to.
import { type EventBody, LOG_SCHEMA_VERSION, type LogEvent } from "./log_events.ts";
import { sendEventLine } from "./protocol.ts";

import type { Redactor } from "./redactor.ts";

const encoder = new TextEncoder();

export class LogWriter {
  private file: Deno.FsFile;
  private closed = false;

  constructor(
    path: string,
    private runId: string,
    private redactor: Redactor,
    private liveEvents: boolean,
  ) {
    this.file = Deno.openSync(path, { append: true, create: true });
  }

  write(body: EventBody): void {
    if (this.closed) return;
    const event = { v: LOG_SCHEMA_VERSION, ts: Date.now() / 1000, run_id: this.runId, ...body } as LogEvent;
    const line = this.redactor.redact(JSON.stringify(event));
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += this.file.writeSync(bytes.subarray(written));
    if (this.liveEvents || body.event === "run_end") sendEventLine(line);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}
