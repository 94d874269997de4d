// Writes the run's JSONL log: one event a line, each line flushed as written (writeSync on an
// unbuffered file), and mirrors every event to the host for live progress.
import { type EventBody, LOG_SCHEMA_VERSION, type LogEvent } from "./log_events.ts";
import { sendEventLine } from "./protocol.ts";

const encoder = new TextEncoder();
const REDACTED = "[redacted]";

export class LogWriter {
  private file: Deno.FsFile;
  private closed = false;

  constructor(path: string, private runId: string, private secrets: string[]) {
    this.file = Deno.openSync(path, { append: true, create: true });
    // Short strings would redact ordinary words; real keys are long.
    this.secrets = secrets.filter((secret) => secret.length >= 8);
  }

  write(body: EventBody): void {
    if (this.closed) return;
    const event = { v: LOG_SCHEMA_VERSION, ts: Date.now() / 1000, run_id: this.runId, ...body } as LogEvent;
    let line = JSON.stringify(event);
    // Defence in depth: no code path should hand a secret to the log, but if agent code prints one
    // it must still never reach the disk.
    for (const secret of this.secrets) line = line.replaceAll(secret, REDACTED);
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += this.file.writeSync(bytes.subarray(written));
    sendEventLine(line);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}
