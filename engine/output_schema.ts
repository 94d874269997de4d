// Validating FINAL values against JSON Schemas (draft 2020-12, which pydantic emits; earlier drafts'
// common keywords too). Schemas come from agent code, and nothing agent-supplied may run unbounded
// in the engine's main isolate (a `pattern` can backtrack for hours), so compiling and validating
// happen in schema_validator_worker.ts, each request under schema_timeout_s. A request that runs out
// of time gets the worker terminated and replaced; the requests queued behind it go to the new one.
import { EngineError } from "./errors.ts";
import type { JsonSchema } from "./protocol.ts";
import type { ValidatorAnswer, ValidatorRequest } from "./schema_validator_worker.ts";

const WORKER_URL = new URL("./schema_validator_worker.ts", import.meta.url);
// Far beyond any schema a model writes or pydantic emits, and small enough to compile quickly.
export const MAX_SCHEMA_CHARS = 1_000_000;

export const schemaError = (message: string) => new EngineError("SchemaError", message);

type Outcome = ValidatorAnswer | { kind: "timed_out" };

type PendingRequest = {
  request: ValidatorRequest;
  timeoutSeconds: number;
  settle: (outcome: Outcome) => void;
  fail: (error: Error) => void;
};

function spawnWorker(): Worker {
  return new Worker(WORKER_URL, {
    type: "module",
    deno: {
      permissions: {
        read: false,
        write: false,
        net: false,
        env: false,
        run: false,
        ffi: false,
        sys: false,
        import: false,
      },
    },
  } as WorkerOptions);
}

// One worker, started on first use. Requests are posted as they come; the worker answers them in
// order, so only the oldest unanswered one is running and its clock starts when it reaches the head.
class SchemaValidator {
  private worker: Worker | null = null;
  private pending: PendingRequest[] = [];
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private nextId = 0;

  check(schemaJson: string, valueJson: string | null, timeoutSeconds: number): Promise<Outcome> {
    return new Promise((settle, fail) => {
      const request = { id: this.nextId++, schemaJson, valueJson };
      this.pending.push({ request, timeoutSeconds, settle, fail });
      this.startedWorker().postMessage(request);
      if (this.pending.length === 1) this.armDeadline();
    });
  }

  private startedWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = spawnWorker();
    worker.onmessage = (event: MessageEvent<ValidatorAnswer>) => {
      if (worker !== this.worker) return;
      const index = this.pending.findIndex((pending) => pending.request.id === event.data.id);
      if (index === -1) return;
      const [answered] = this.pending.splice(index, 1);
      answered.settle(event.data);
      if (index === 0) this.armDeadline();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (worker !== this.worker) return;
      const failed = this.pending;
      this.pending = [];
      this.discardWorker();
      for (const pending of failed) {
        pending.fail(schemaError(`the schema validator failed: ${event.message}`));
      }
    };
    this.worker = worker;
    return worker;
  }

  private armDeadline(): void {
    clearTimeout(this.deadline);
    const head = this.pending[0];
    if (head === undefined) return;
    this.deadline = setTimeout(() => this.expireHead(head), head.timeoutSeconds * 1000);
  }

  private expireHead(head: PendingRequest): void {
    if (this.pending[0] !== head) return;
    this.pending.shift();
    this.discardWorker();
    head.settle({ kind: "timed_out" });
    if (this.pending.length === 0) return;
    const worker = this.startedWorker();
    for (const pending of this.pending) worker.postMessage(pending.request);
    this.armDeadline();
  }

  private discardWorker(): void {
    clearTimeout(this.deadline);
    this.worker?.terminate();
    this.worker = null;
  }
}

const validator = new SchemaValidator();

function schemaText(schema: JsonSchema): string {
  const text = JSON.stringify(schema);
  if (text.length > MAX_SCHEMA_CHARS) {
    throw schemaError(
      `the schema is ${text.length} characters of JSON; schemas are limited to ${MAX_SCHEMA_CHARS}`,
    );
  }
  return text;
}

function invalidSchema(message: string): EngineError {
  return schemaError(`the schema is not a valid JSON Schema: ${message}`);
}

// Throws SchemaError when the schema itself is invalid, too large, or does not compile within
// schema_timeout_s.
export async function checkSchema(schema: JsonSchema, timeoutSeconds: number): Promise<void> {
  const outcome = await validator.check(schemaText(schema), null, timeoutSeconds);
  if (outcome.kind === "schema_invalid") throw invalidSchema(outcome.message);
  if (outcome.kind === "timed_out") {
    throw schemaError(`compiling the schema did not finish within schema_timeout_s=${timeoutSeconds}`);
  }
}

// "path: message" for each way the value (JSON text) breaks `schema`; empty when it conforms. A
// validation that runs out of time is one violation, so the agent sees it and can try a simpler
// value; `limitName` is the config key of the time limit, for that message. Throws SchemaError when
// the schema itself is invalid or too large.
export async function schemaViolations(
  schema: JsonSchema,
  valueJson: string,
  timeoutSeconds: number,
  limitName = "schema_timeout_s",
): Promise<string[]> {
  const outcome = await validator.check(schemaText(schema), valueJson, timeoutSeconds);
  if (outcome.kind === "schema_invalid") throw invalidSchema(outcome.message);
  if (outcome.kind === "timed_out") {
    return [
      `(the value itself): validation did not finish within ${limitName}=${timeoutSeconds}; ` +
      "a pattern in the schema may take exponential time on this value, so try a simpler value",
    ];
  }
  return outcome.violations;
}
