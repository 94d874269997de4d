// The pool of REPL workers. Each agent is placed on the least-loaded worker and keeps that worker
// for its life; its steps and its llm_query calls travel as messages. Workers start from a memory
// snapshot of the bare interpreter, made once into the cache.
import { replError } from "../errors.ts";
import type { FromWorker, StepOutcome, ToWorker } from "./worker_messages.ts";

// An agent's request for a child, answered with {"ok": true, "value"} or {"ok": false, "error"}.
export type ChildQueryHandler = (agentId: string, payloadJson: string) => Promise<string>;

const WORKER_URL = new URL("./worker.ts", import.meta.url);
const RUNTIME_SOURCE = Deno.readTextFileSync(new URL("./runtime.py", import.meta.url));
export const PYODIDE_DIR = new URL(".", import.meta.resolve("pyodide")).pathname;

type WorkerSlot = {
  worker: Worker;
  ready: Promise<void>;
  agentCount: number;
  interruptBuffer: SharedArrayBuffer;
};

type PendingStep = { resolve: (outcome: StepOutcome) => void; worker: WorkerSlot };

function spawnWorker(readable: string[]): Worker {
  return new Worker(WORKER_URL, {
    type: "module",
    deno: {
      permissions: {
        read: readable,
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

// Makes the snapshot file if the cache does not have it yet. Written to a temporary name and renamed,
// so concurrent runs never read half a file.
export async function ensureSnapshot(snapshotFile: string): Promise<void> {
  try {
    Deno.statSync(snapshotFile);
    return;
  } catch {
    // not made yet
  }
  const worker = spawnWorker([PYODIDE_DIR]);
  const bytes = await new Promise<Uint8Array>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.kind === "snapshot") resolve(message.bytes);
      else if (message.kind === "init_failed") {
        reject(replError(`cannot make the interpreter snapshot: ${message.message}`));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(replError(`cannot make the interpreter snapshot: ${event.message}`));
    };
    const init: ToWorker = {
      kind: "init",
      snapshotFile: null,
      runtimeSource: "",
      interruptBuffer: new SharedArrayBuffer(4),
    };
    worker.postMessage(init);
  });
  worker.terminate();
  const temporary = `${snapshotFile}.${crypto.randomUUID()}.tmp`;
  Deno.writeFileSync(temporary, bytes);
  Deno.renameSync(temporary, snapshotFile);
}

export class ReplPool {
  private slots: WorkerSlot[] = [];
  private agentSlots = new Map<string, WorkerSlot>();
  private pendingSteps = new Map<string, PendingStep>();
  private pendingCreates = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private nextStepId = 0;

  constructor(private snapshotFile: string, size: number, private onChildQuery: ChildQueryHandler) {
    for (let index = 0; index < size; index++) this.slots.push(this.startWorker());
  }

  get size(): number {
    return this.slots.length;
  }

  // Resolves when every worker is ready; a failure is reported by the first agent that needs it.
  whenReady(): Promise<void> {
    return Promise.all(this.slots.map((slot) => slot.ready)).then(() => {});
  }

  private startWorker(): WorkerSlot {
    const worker = spawnWorker([PYODIDE_DIR, this.snapshotFile]);
    const interruptBuffer = new SharedArrayBuffer(4);
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    ready.catch(() => {}); // observed by whoever awaits it
    const slot: WorkerSlot = { worker, ready, agentCount: 0, interruptBuffer };
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      switch (message.kind) {
        case "ready":
          return markReady();
        case "init_failed":
          return markFailed(replError(`a REPL worker failed to start: ${message.message}`));
        case "agent_created":
          return this.settleCreate(message.agentId, message.error);
        case "step_done":
          return this.settleStep(slot, message.stepId, message.outcomeJson);
        case "llm_query":
          return this.forwardChildQuery(slot, message.queryId, message.agentId, message.payloadJson);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      markFailed(replError(`a REPL worker crashed: ${event.message}`));
    };
    const init: ToWorker = {
      kind: "init",
      snapshotFile: this.snapshotFile,
      runtimeSource: RUNTIME_SOURCE,
      interruptBuffer,
    };
    worker.postMessage(init);
    return slot;
  }

  async createAgent(agentId: string, contextBytes: Uint8Array, contextIsText: boolean): Promise<void> {
    const slot = this.slots.reduce((best, candidate) =>
      candidate.agentCount < best.agentCount ? candidate : best
    );
    slot.agentCount += 1;
    this.agentSlots.set(agentId, slot);
    await slot.ready;
    const created = new Promise<void>((resolve, reject) =>
      this.pendingCreates.set(agentId, { resolve, reject })
    );
    const message: ToWorker = { kind: "create_agent", agentId, contextBytes, contextIsText };
    slot.worker.postMessage(message, [contextBytes.buffer as ArrayBuffer]);
    await created;
  }

  runStep(agentId: string, stepNumber: number, code: string): Promise<StepOutcome> {
    const slot = this.slotOf(agentId);
    const stepId = `s${++this.nextStepId}`;
    return new Promise((resolve) => {
      this.pendingSteps.set(stepId, { resolve, worker: slot });
      const message: ToWorker = { kind: "run_step", stepId, agentId, stepNumber, code };
      slot.worker.postMessage(message);
    });
  }

  dropAgent(agentId: string): void {
    const slot = this.agentSlots.get(agentId);
    if (!slot) return;
    this.agentSlots.delete(agentId);
    slot.agentCount -= 1;
    const message: ToWorker = { kind: "drop_agent", agentId };
    slot.worker.postMessage(message);
  }

  shutdown(): void {
    for (const slot of this.slots) slot.worker.terminate();
  }

  private slotOf(agentId: string): WorkerSlot {
    const slot = this.agentSlots.get(agentId);
    if (!slot) throw replError(`no REPL for agent ${agentId}`);
    return slot;
  }

  private settleCreate(agentId: string, error: string | null): void {
    const pending = this.pendingCreates.get(agentId);
    this.pendingCreates.delete(agentId);
    if (error === null) pending?.resolve();
    else pending?.reject(replError(`cannot load the context into agent ${agentId}'s REPL: ${error}`));
  }

  private settleStep(slot: WorkerSlot, stepId: string, outcomeJson: string): void {
    const pending = this.pendingSteps.get(stepId);
    // A worker may only settle steps the pool sent to it.
    if (!pending || pending.worker !== slot) return;
    this.pendingSteps.delete(stepId);
    pending.resolve(JSON.parse(outcomeJson));
  }

  private async forwardChildQuery(slot: WorkerSlot, queryId: number, agentId: string, payloadJson: string) {
    // A worker may only ask on behalf of agents the pool placed on it.
    const replyJson = this.agentSlots.get(agentId) === slot
      ? await this.onChildQuery(agentId, payloadJson)
      : JSON.stringify({ ok: false, error: { type: "AgentError", message: "unknown agent" } });
    const message: ToWorker = { kind: "llm_reply", queryId, replyJson };
    slot.worker.postMessage(message);
  }
}
