// The pool of REPL workers. Each agent is placed on the least-loaded worker and keeps that worker
// for its life; its steps and its requests (llm_query, host functions, ...) travel as messages. Workers start from a memory
// snapshot of the bare interpreter, made once into the cache.
//
// The watchdog enforces step_timeout_s. A step's clock runs only while it is not waiting on child
// agents. An overdue step is cancelled (it is awaiting something) or interrupted through the
// worker's interrupt buffer (it is holding the worker). A worker that stays stuck past a grace
// period is terminated and restarted from the snapshot; its agents fail with a typed error.
import { replError } from "../errors.ts";
import {
  CONTROL_CELLS,
  type FromWorker,
  HEARTBEAT_CELL,
  INTERRUPT_CELL,
  OVERDUE_STEP_CELL,
  type StepOutcome,
  type ToWorker,
} from "./worker_messages.ts";

// A request from agent code (a child agent, a host function, ...), answered with JSON
// {"ok": true, "value"} or {"ok": false, "error": {"type", "message"}}.
export type AgentRequestHandler = (
  agentId: string,
  requestKind: string,
  payloadJson: string,
) => Promise<string>;

export type PoolOptions = {
  snapshotFile: string;
  size: number;
  stepTimeoutSeconds: number;
  environment: Record<string, string>; // the run's env_variables, for os.environ in every worker
};

const WORKER_URL = new URL("./worker.ts", import.meta.url);
// The Python side of a worker: the runtime first, then the modules that add to agents' namespaces.
const PYTHON_MODULES: [string, string][] = [
  ["_rlm_runtime", "runtime.py"],
  ["_rlm_agent_setup", "agent_setup.py"],
  ["_rlm_mcp", "mcp_functions.py"],
].map(([name, file]) => [name, Deno.readTextFileSync(new URL(`./${file}`, import.meta.url))]);
export const PYODIDE_DIR = new URL(".", import.meta.resolve("pyodide")).pathname;

const WATCHDOG_INTERVAL_MS = 20;
const STALE_HEARTBEAT_MS = 60; // the worker's loop has not run for this long: Python holds it
const REINTERRUPT_MS = 50; // an interrupt that was swallowed is sent again (the runtime escalates)
const KILL_GRACE_MS = 2000; // an overdue step still running after this costs its worker
const SIGINT = 2;

type WorkerSlot = {
  worker: Worker;
  ready: Promise<void>;
  agentCount: number;
  control: Int32Array;
  alive: boolean;
};

// Where an agent lives. Until its first step has run, its namespace holds nothing but its context,
// so the pool keeps the context bytes and can rebuild the agent on another worker if its own dies.
type PlacedAgent = {
  slot: WorkerSlot;
  contextBytes: Uint8Array | null;
  contextIsText: boolean;
  setupJson: string;
};

type PendingStep = {
  stepId: number;
  agentId: string;
  stepNumber: number;
  code: string;
  slot: WorkerSlot;
  started: boolean;
  resolve: (outcome: StepOutcome) => void;
  reject: (error: Error) => void;
  activeMs: number; // time spent running, excluding waits on children
  activeSince: number | null; // null while queued or waiting on children
  childQueriesOpen: number;
  cancelSent: boolean;
  lastInterruptAt: number;
};

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
      pythonModules: [],
      environmentJson: "{}",
      control: new SharedArrayBuffer(CONTROL_CELLS * 4),
      clockOrigin: Date.now(),
      timeoutMessage: "",
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
  private agents = new Map<string, PlacedAgent>();
  private pendingSteps = new Map<number, PendingStep>();
  private runningStepOf = new Map<string, PendingStep>();
  private pendingCreates = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private nextStepId = 0;
  private snapshotNote: string | null = null;
  private readonly clockOrigin = Date.now();
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(private options: PoolOptions, private onAgentRequest: AgentRequestHandler) {
    for (let index = 0; index < options.size; index++) this.slots.push(this.startWorker());
    this.watchdog = setInterval(() => this.checkSteps(), WATCHDOG_INTERVAL_MS);
  }

  get size(): number {
    return this.slots.length;
  }

  private startWorker(): WorkerSlot {
    const worker = spawnWorker([PYODIDE_DIR, this.options.snapshotFile]);
    const controlBuffer = new SharedArrayBuffer(CONTROL_CELLS * 4);
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    ready.catch(() => {}); // observed by whoever awaits it
    const slot: WorkerSlot = {
      worker,
      ready,
      agentCount: 0,
      control: new Int32Array(controlBuffer),
      alive: true,
    };
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (!slot.alive) return;
      const message = event.data;
      switch (message.kind) {
        case "ready":
          return markReady();
        case "init_failed":
          return markFailed(
            replError(`a REPL worker failed to start: ${message.message}${this.discardSnapshot()}`),
          );
        case "agent_created":
          return this.settleCreate(slot, message.agentId, message.error);
        case "step_started":
          return this.markStarted(slot, message.stepId);
        case "step_done":
          return this.settleStep(slot, message.stepId, message.outcomeJson);
        case "agent_request":
          return this.forwardRequest(slot, message);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      markFailed(replError(`a REPL worker crashed while starting: ${event.message}`));
      this.replaceWorker(slot, `its worker crashed: ${event.message}`);
    };
    const init: ToWorker = {
      kind: "init",
      snapshotFile: this.options.snapshotFile,
      pythonModules: PYTHON_MODULES,
      environmentJson: JSON.stringify(this.options.environment),
      control: controlBuffer,
      clockOrigin: this.clockOrigin,
      timeoutMessage:
        `the step ran longer than step_timeout_s=${this.options.stepTimeoutSeconds}s (time spent ` +
        `waiting on helpers is not counted) and was stopped. Make each step do less.`,
    };
    worker.postMessage(init);
    return slot;
  }

  // Children go to a different worker than their parent when there is one: if a child's runaway code
  // costs its worker, the parent, which is usually waiting on it, survives to see the error.
  // `setup` is what the agent gets beyond the basics, keyed by the runtime's setup installers.
  async createAgent(
    agentId: string,
    parentId: string | null,
    contextBytes: Uint8Array,
    contextIsText: boolean,
    setup: Record<string, unknown>,
  ): Promise<void> {
    const parentSlot = parentId === null ? undefined : this.agents.get(parentId)?.slot;
    const live = this.slots.filter((slot) => slot.alive);
    const candidates = live.length > 1 ? live.filter((slot) => slot !== parentSlot) : live;
    const slot = candidates.reduce((best, candidate) =>
      candidate.agentCount < best.agentCount ? candidate : best
    );
    const placed: PlacedAgent = { slot, contextBytes, contextIsText, setupJson: JSON.stringify(setup) };
    this.agents.set(agentId, placed);
    slot.agentCount += 1;
    const created = new Promise<void>((resolve, reject) =>
      this.pendingCreates.set(agentId, { resolve, reject })
    );
    this.sendCreate(agentId, placed);
    await created;
  }

  private async sendCreate(agentId: string, placed: PlacedAgent): Promise<void> {
    const slot = placed.slot;
    try {
      await slot.ready;
    } catch (error) {
      const pending = this.pendingCreates.get(agentId);
      this.pendingCreates.delete(agentId);
      return pending?.reject(error as Error);
    }
    if (!slot.alive || placed.contextBytes === null) return; // replaceWorker settles or moves it
    const message: ToWorker = {
      kind: "create_agent",
      agentId,
      contextBytes: placed.contextBytes,
      contextIsText: placed.contextIsText,
      setupJson: placed.setupJson,
    };
    slot.worker.postMessage(message); // copied, not transferred: the pool keeps the bytes for a rebuild
  }

  // A worker that cannot restore the snapshot most likely has a damaged file (a disk filled up while
  // it was written, say): removing it lets the next run make a new one instead of failing forever.
  private discardSnapshot(): string {
    if (this.snapshotNote === null) {
      try {
        Deno.removeSync(this.options.snapshotFile);
        this.snapshotNote =
          `. The interpreter snapshot ${this.options.snapshotFile} was removed; the next run ` +
          `makes a new one.`;
      } catch {
        this.snapshotNote = "";
      }
    }
    return this.snapshotNote; // the same note for every worker that failed on it
  }

  runStep(agentId: string, stepNumber: number, code: string): Promise<StepOutcome> {
    const placed = this.agents.get(agentId);
    if (!placed) return Promise.reject(replError(`no REPL for agent ${agentId}`));
    if (!placed.slot.alive) {
      return Promise.reject(replError(`agent ${agentId}'s REPL was lost when its worker was restarted`));
    }
    const stepId = ++this.nextStepId;
    return new Promise((resolve, reject) => {
      const step: PendingStep = {
        stepId,
        agentId,
        stepNumber,
        code,
        slot: placed.slot,
        started: false,
        resolve,
        reject,
        activeMs: 0,
        activeSince: null, // the clock starts when the worker starts the step, not while it is queued
        childQueriesOpen: 0,
        cancelSent: false,
        lastInterruptAt: 0,
      };
      this.pendingSteps.set(stepId, step);
      this.runningStepOf.set(agentId, step);
      this.sendStep(step);
    });
  }

  private sendStep(step: PendingStep): void {
    const message: ToWorker = {
      kind: "run_step",
      stepId: step.stepId,
      agentId: step.agentId,
      stepNumber: step.stepNumber,
      code: step.code,
    };
    step.slot.worker.postMessage(message);
  }

  dropAgent(agentId: string): void {
    const placed = this.agents.get(agentId);
    if (!placed) return;
    this.agents.delete(agentId);
    placed.slot.agentCount -= 1;
    if (!placed.slot.alive) return;
    const message: ToWorker = { kind: "drop_agent", agentId };
    placed.slot.worker.postMessage(message);
  }

  shutdown(): void {
    clearInterval(this.watchdog);
    for (const slot of this.slots) {
      slot.alive = false;
      slot.worker.terminate();
    }
  }

  private settleCreate(slot: WorkerSlot, agentId: string, error: string | null): void {
    if (this.agents.get(agentId)?.slot !== slot) return;
    const pending = this.pendingCreates.get(agentId);
    this.pendingCreates.delete(agentId);
    if (error === null) pending?.resolve();
    else pending?.reject(replError(`cannot load the context into agent ${agentId}'s REPL: ${error}`));
  }

  private markStarted(slot: WorkerSlot, stepId: number): void {
    const step = this.pendingSteps.get(stepId);
    if (!step || step.slot !== slot) return;
    step.started = true;
    step.activeSince = performance.now();
  }

  private settleStep(slot: WorkerSlot, stepId: number, outcomeJson: string): void {
    const step = this.pendingSteps.get(stepId);
    // A worker may only settle steps the pool sent to it.
    if (!step || step.slot !== slot) return;
    this.finishStep(step);
    const placed = this.agents.get(step.agentId);
    if (placed) placed.contextBytes = null; // the namespace has moved on from its context: no rebuild
    try {
      step.resolve(JSON.parse(outcomeJson));
    } catch {
      // Only agent code posting a forged message produces this; it costs that step, not the run.
      step.reject(replError(`agent ${step.agentId}'s step reported an unreadable result`));
    }
  }

  private finishStep(step: PendingStep): void {
    this.pendingSteps.delete(step.stepId);
    if (this.runningStepOf.get(step.agentId) === step) this.runningStepOf.delete(step.agentId);
    if (Atomics.load(step.slot.control, OVERDUE_STEP_CELL) === step.stepId) {
      Atomics.store(step.slot.control, OVERDUE_STEP_CELL, 0);
    }
  }

  // The step's clock stops while it waits on the request: time spent in children, on the host or in
  // an MCP server is not the step's own.
  private async forwardRequest(slot: WorkerSlot, request: Extract<FromWorker, { kind: "agent_request" }>) {
    let replyJson: string;
    // A worker may only ask on behalf of agents the pool placed on it, from a running step.
    const step = this.runningStepOf.get(request.agentId);
    if (this.agents.get(request.agentId)?.slot !== slot || !step) {
      replyJson = JSON.stringify({ ok: false, error: { type: "AgentError", message: "unknown agent" } });
    } else {
      this.pauseClock(step);
      try {
        replyJson = await this.onAgentRequest(request.agentId, request.requestKind, request.payloadJson);
      } finally {
        this.resumeClock(step);
      }
    }
    if (!slot.alive) return;
    const message: ToWorker = { kind: "agent_reply", requestId: request.requestId, replyJson };
    slot.worker.postMessage(message);
  }

  private pauseClock(step: PendingStep): void {
    if (step.childQueriesOpen++ === 0 && step.activeSince !== null) {
      step.activeMs += performance.now() - step.activeSince;
      step.activeSince = null;
    }
  }

  private resumeClock(step: PendingStep): void {
    if (--step.childQueriesOpen === 0) step.activeSince = performance.now();
  }

  private checkSteps(): void {
    const now = performance.now();
    const limitMs = this.options.stepTimeoutSeconds * 1000;
    for (const step of this.pendingSteps.values()) {
      if (step.activeSince === null || !step.slot.alive) continue;
      const overdueMs = step.activeMs + (now - step.activeSince) - limitMs;
      if (overdueMs < 0) continue;
      if (overdueMs > KILL_GRACE_MS) {
        this.replaceWorker(
          step.slot,
          `its worker was restarted: step ${step.agentId} did not stop within ${KILL_GRACE_MS} ms after ` +
            `step_timeout_s=${this.options.stepTimeoutSeconds}`,
        );
        continue;
      }
      if (!step.cancelSent) {
        step.cancelSent = true;
        const message: ToWorker = { kind: "cancel_step", stepId: step.stepId };
        step.slot.worker.postMessage(message);
      }
      const heartbeatAge = Date.now() - this.clockOrigin - Atomics.load(step.slot.control, HEARTBEAT_CELL);
      if (heartbeatAge > STALE_HEARTBEAT_MS && now - step.lastInterruptAt > REINTERRUPT_MS) {
        step.lastInterruptAt = now;
        Atomics.store(step.slot.control, OVERDUE_STEP_CELL, step.stepId);
        Atomics.store(step.slot.control, INTERRUPT_CELL, SIGINT);
      }
    }
  }

  // Terminates a worker and starts a fresh one in its place. Agents whose namespace held only their
  // context (no step has run yet) are rebuilt on the new worker, their queued step resent; the others
  // lost their state: their running step fails now and their later steps fail at once, typed.
  private replaceWorker(slot: WorkerSlot, why: string): void {
    if (!slot.alive) return;
    slot.alive = false;
    slot.worker.terminate();
    const fresh = this.startWorker();
    this.slots[this.slots.indexOf(slot)] = fresh;
    for (const [agentId, placed] of this.agents) {
      if (placed.slot !== slot) continue;
      const step = this.runningStepOf.get(agentId);
      if (placed.contextBytes !== null && !step?.started) {
        placed.slot = fresh;
        fresh.agentCount += 1;
        this.sendCreate(agentId, placed).then(() => {
          if (step && this.pendingSteps.has(step.stepId)) {
            Object.assign(step, {
              slot: fresh,
              activeMs: 0,
              activeSince: performance.now(),
              cancelSent: false,
            });
            this.sendStep(step);
          }
        });
        continue;
      }
      if (step) {
        this.finishStep(step);
        step.reject(replError(`agent ${agentId}'s REPL was lost: ${why}`));
      }
      const pendingCreate = this.pendingCreates.get(agentId);
      this.pendingCreates.delete(agentId);
      pendingCreate?.reject(replError(`agent ${agentId}'s REPL was lost: ${why}`));
    }
  }
}
