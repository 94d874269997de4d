// The pool of REPL processes. Each agent is placed on the least-loaded process and keeps it for its
// life; its steps and its requests (llm_query, host functions, ...) travel as frames. Processes start
// from a memory snapshot of the bare interpreter, made once into the cache.
//
// A REPL process is untrusted: agent code runs there and can kill it, exhaust its memory, garble
// its pipe or go silent. The pool notices each (exit, malformed or oversized frame, no status for
// SILENCE_LIMIT_MS, memory over repl_memory_mb, a step still running KILL_GRACE_MS past its limit),
// fails exactly the agents whose state lived there with a ReplError, and starts a replacement.
//
// The watchdog enforces step_timeout_s. A step's clock starts when the pool dispatches it and stops
// while it waits on a request (child agents, host functions, MCP). An overdue step is handed to the
// process's supervisor, which cancels or interrupts it; if it still runs after a grace period, its
// process is replaced.
import { replError } from "../errors.ts";
import { type ReplLaunch, ReplProcess } from "./repl_process.ts";
import type { ReplLaunchPaths } from "../protocol.ts";
import type { FromReplProcess, StepOutcome, ToReplProcess } from "./repl_messages.ts";

// A request from agent code (a child agent, a host function, ...), answered with JSON
// {"ok": true, "value"} or {"ok": false, "error": {"type", "message"}}.
export type AgentRequestHandler = (
  agentId: string,
  requestKind: string,
  payloadJson: string,
) => Promise<string>;

export type PoolOptions = {
  launch: ReplLaunch;
  snapshotFile: string;
  size: number;
  stepTimeoutSeconds: number;
  memoryLimitMb: number; // repl_memory_mb
  maxValueBytes: number; // max_value_mb
  environment: Record<string, string>; // the run's env_variables, for os.environ in every REPL
};

// The Python side of a REPL, written into every interpreter's files: the runtime first, then the
// modules it imports and those that add to agents' namespaces, imported into the snapshot; the last
// two only when an agent needs them (each costs a REPL process a fifth of a second or more).
const PYTHON_MODULES: [string, string][] = [
  ["_rlm_runtime", "runtime.py"],
  ["_rlm_ready_queue", "ready_queue.py"],
  ["_rlm_step_code", "step_code.py"],
  ["_rlm_image_values", "image_values.py"],
  ["_rlm_llm_query_arguments", "llm_query_arguments.py"],
  ["_rlm_agent_setup", "agent_setup.py"],
  ["_rlm_mcp", "mcp_functions.py"],
  ["_rlm_http_hooks", "http_hooks.py"],
  // Imported on first use: by http_hooks.py when agent code imports urllib.request or httpx, and by
  // runtime.py for the root of a session's query.
  ["_rlm_http_clients", "http_clients.py"],
  ["_rlm_session_state", "session_state.py"],
].map(([name, file]) => [name, Deno.readTextFileSync(new URL(`./${file}`, import.meta.url))]);
const IMPORTED_LATER = new Set(["_rlm_http_clients", "_rlm_session_state"]);
// Imported into the snapshot, in this order (the runtime first): a process then starts with them in
// place instead of compiling them (35 ms of a REPL process's start).
const PYTHON_IMPORTS = PYTHON_MODULES.map(([name]) => name).filter((name) => !IMPORTED_LATER.has(name));
export const PYODIDE_DIR = new URL(".", import.meta.resolve("pyodide")).pathname;

// How REPL processes start, from the paths the host sent and the run's allow_net.
export function replLaunchFrom(paths: ReplLaunchPaths, netGrant: string[]): ReplLaunch {
  return {
    denoBinary: paths.deno_binary,
    configFile: paths.config_file,
    lockFile: paths.lock_file,
    denoDir: paths.deno_dir,
    pyodideDir: PYODIDE_DIR,
    pythonPackagesFile: paths.python_packages_file,
    netGrant,
  };
}

const WATCHDOG_INTERVAL_MS = 20;
const KILL_GRACE_MS = 2000; // an overdue step still running after this costs its process
const SILENCE_LIMIT_MS = 5000; // a supervisor reports every 50 ms; this long without a word is a hang
const BYTES_PER_MB = 1024 * 1024;
// Besides a FINAL value (escaped once more inside the step's outcome, so at most twice its size) and a
// session root's saved state (up to max_value_mb): the step's captured output and the message itself.
const FRAME_OVERHEAD_BYTES = 16 * BYTES_PER_MB;
// A process that ends before an agent's first step may have ended because of that agent (a context
// too large for repl_memory_mb): past this many rebuilds the agent fails instead of ending every
// replacement in turn.
const MAX_REBUILDS = 2;

// Where an agent lives. Until its first step has run, its namespace holds nothing but its context,
// so the pool keeps the context bytes and can rebuild the agent on another process if its own dies.
type PlacedAgent = {
  process: ReplProcess;
  contextBytes: Uint8Array | null;
  contextIsText: boolean;
  setupJson: string;
  rebuilds: number; // times it was rebuilt on a replacement process
};

// An agent whose namespace the pool asked for; `sentTo` is set once the message went to a ready
// process, whose worker then owes an answer as promptly as a step does.
type PendingCreate = {
  resolve: () => void;
  reject: (error: Error) => void;
  sentTo: { process: ReplProcess; at: number } | null;
};

type PendingStep = {
  stepId: number;
  agentId: string;
  stepNumber: number;
  code: string;
  process: ReplProcess;
  started: boolean;
  resolve: (outcome: StepOutcome) => void;
  reject: (error: Error) => void;
  activeMs: number; // time spent since dispatch, excluding waits on requests
  activeSince: number | null; // null while waiting on requests
  requestsOpen: number;
  overdueSent: boolean;
};

// Makes the snapshot file if the cache does not have it yet, in a REPL process of its own. Written
// to a temporary name and renamed, so concurrent runs never read half a file.
export async function ensureSnapshot(launch: ReplLaunch, snapshotFile: string): Promise<void> {
  try {
    Deno.statSync(snapshotFile);
    return;
  } catch {
    // not made yet
  }
  const bytes = await new Promise<Uint8Array>((resolve, reject) => {
    const maker = new ReplProcess(
      { launch, snapshotFile: null, memoryLimitMb: 2048, maxFrameBytes: 2 ** 32 - 1 },
      (_process, message, payload) => {
        if (message.kind === "snapshot") resolve(payload);
        else if (message.kind === "init_failed") {
          reject(replError(`cannot make the interpreter snapshot: ${message.message}`));
        }
        maker.kill("the snapshot is made");
      },
    );
    maker.ended.then((why) =>
      reject(replError(`cannot make the interpreter snapshot: ${why}${maker.stderrNote()}`))
    );
    maker.sendNow({ kind: "make_snapshot", pythonModules: PYTHON_MODULES, pythonImports: PYTHON_IMPORTS });
  });
  const temporary = `${snapshotFile}.${crypto.randomUUID()}.tmp`;
  Deno.writeFileSync(temporary, bytes);
  Deno.renameSync(temporary, snapshotFile);
}

export class ReplPool {
  private processes: ReplProcess[] = [];
  private agents = new Map<string, PlacedAgent>();
  private pendingSteps = new Map<number, PendingStep>();
  private runningStepOf = new Map<string, PendingStep>();
  private pendingCreates = new Map<string, PendingCreate>();
  private failedToStart = new Set<ReplProcess>();
  private nextStepId = 0;
  private snapshotNote: string | null = null;
  private shuttingDown = false;
  private lastWatchAt = performance.now();
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(private options: PoolOptions, private onAgentRequest: AgentRequestHandler) {
    for (let index = 0; index < options.size; index++) this.processes.push(this.startProcess());
    this.watchdog = setInterval(() => this.watch(), WATCHDOG_INTERVAL_MS);
  }

  private startProcess(): ReplProcess {
    const process = new ReplProcess(
      {
        launch: this.options.launch,
        snapshotFile: this.options.snapshotFile,
        memoryLimitMb: this.options.memoryLimitMb,
        maxFrameBytes: 3 * this.options.maxValueBytes + FRAME_OVERHEAD_BYTES,
      },
      (from, message, payload) => this.receive(from, message, payload),
    );
    process.ended.then((why) => {
      if (!this.shuttingDown && !this.failedToStart.has(process)) this.replaceProcess(process, why);
    });
    const init: ToReplProcess = {
      kind: "init",
      snapshotFile: this.options.snapshotFile,
      pythonPackagesFile: this.options.launch.pythonPackagesFile,
      pythonModules: PYTHON_MODULES,
      runtimeModule: PYTHON_IMPORTS[0],
      environmentJson: JSON.stringify(this.options.environment),
      timeoutMessage:
        `the step ran longer than step_timeout_s=${this.options.stepTimeoutSeconds}s (time spent ` +
        `waiting on helpers is not counted) and was stopped. Make each step do less.`,
      maxValueBytes: this.options.maxValueBytes,
    };
    process.sendNow(init);
    return process;
  }

  private receive(process: ReplProcess, message: FromReplProcess, payload: Uint8Array): void {
    if (!process.alive) return;
    switch (message?.kind) {
      case "init_failed":
        return this.failStart(process, message.message);
      case "agent_created":
        return this.settleCreate(process, message.agentId, message.error);
      case "step_started":
        return this.markStarted(process, message.stepId);
      case "step_done":
        return this.settleStep(process, message.stepId, payload);
      case "agent_request":
        this.forwardRequest(process, message, payload);
        return;
    }
  }

  // A process that cannot restore the snapshot would fail the same way again: it is not replaced,
  // and the agents placed on it fail with the reason.
  private failStart(process: ReplProcess, why: string): void {
    this.failedToStart.add(process);
    process.failStart(replError(`a REPL process failed to start: ${why}${this.discardSnapshot()}`));
    process.kill("it failed to start");
  }

  // Children go to a different process than their parent when there is one: if a child's runaway
  // code costs its process, the parent, which is usually waiting on it, survives to see the error.
  // `setup` is what the agent gets beyond the basics, keyed by the runtime's setup installers.
  async createAgent(
    agentId: string,
    parentId: string | null,
    contextBytes: Uint8Array,
    contextIsText: boolean,
    setup: Record<string, unknown>,
  ): Promise<void> {
    const parentProcess = parentId === null ? undefined : this.agents.get(parentId)?.process;
    const live = this.processes.filter((process) => process.alive);
    const candidates = live.length > 1 ? live.filter((process) => process !== parentProcess) : this.processes;
    const process = candidates.reduce((best, candidate) =>
      candidate.agentCount < best.agentCount ? candidate : best
    );
    const placed: PlacedAgent = {
      process,
      contextBytes,
      contextIsText,
      setupJson: JSON.stringify(setup),
      rebuilds: 0,
    };
    this.agents.set(agentId, placed);
    process.agentCount += 1;
    const created = new Promise<void>((resolve, reject) =>
      this.pendingCreates.set(agentId, { resolve, reject, sentTo: null })
    );
    this.sendCreate(agentId, placed);
    await created;
  }

  private async sendCreate(agentId: string, placed: PlacedAgent): Promise<void> {
    const process = placed.process;
    try {
      await process.ready;
    } catch (error) {
      // A process that died while starting is replaced, and replaceProcess moves its agents; only
      // one that could not restore the snapshot fails them.
      if (!this.failedToStart.has(process)) return;
      const pending = this.pendingCreates.get(agentId);
      this.pendingCreates.delete(agentId);
      return pending?.reject(
        replError(`agent ${agentId}'s REPL could not start: ${(error as Error).message}`),
      );
    }
    if (placed.process !== process || placed.contextBytes === null) return;
    const message: ToReplProcess = {
      kind: "create_agent",
      agentId,
      contextIsText: placed.contextIsText,
      setupJson: placed.setupJson,
    };
    process.send(message, placed.contextBytes); // copied into the frame: the pool keeps the bytes for a rebuild
    const pending = this.pendingCreates.get(agentId);
    if (pending) pending.sentTo = { process, at: performance.now() };
  }

  // A process that cannot restore the snapshot most likely has a damaged file (a disk filled up while
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
    return this.snapshotNote; // the same note for every process that failed on it
  }

  runStep(agentId: string, stepNumber: number, code: string): Promise<StepOutcome> {
    const placed = this.agents.get(agentId);
    if (!placed) return Promise.reject(replError(`no REPL for agent ${agentId}`));
    if (!placed.process.alive) {
      return Promise.reject(replError(`agent ${agentId}'s REPL was lost when its process was replaced`));
    }
    const stepId = ++this.nextStepId;
    return new Promise((resolve, reject) => {
      const step: PendingStep = {
        stepId,
        agentId,
        stepNumber,
        code,
        process: placed.process,
        started: false,
        resolve,
        reject,
        activeMs: 0,
        activeSince: null,
        requestsOpen: 0,
        overdueSent: false,
      };
      this.pendingSteps.set(stepId, step);
      this.runningStepOf.set(agentId, step);
      this.dispatchStep(step);
    });
  }

  // The step's clock starts here: work left running by an earlier step that keeps this one from
  // starting counts against it, so nothing can hold a process past every limit.
  private dispatchStep(step: PendingStep): void {
    Object.assign(step, { activeMs: 0, activeSince: performance.now(), overdueSent: false });
    step.process.send({
      kind: "run_step",
      stepId: step.stepId,
      agentId: step.agentId,
      stepNumber: step.stepNumber,
      code: step.code,
    });
  }

  dropAgent(agentId: string): void {
    const placed = this.agents.get(agentId);
    if (!placed) return;
    this.agents.delete(agentId);
    placed.process.agentCount -= 1;
    placed.process.send({ kind: "drop_agent", agentId });
  }

  // Ends every REPL process and waits until they are gone: nothing of a run outlives it.
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.watchdog);
    for (const process of this.processes) process.kill("the run ended");
    await Promise.all(this.processes.map((process) => process.ended));
  }

  private settleCreate(process: ReplProcess, agentId: string, error: string | null): void {
    if (this.agents.get(agentId)?.process !== process) return;
    const pending = this.pendingCreates.get(agentId);
    this.pendingCreates.delete(agentId);
    if (error === null) pending?.resolve();
    else pending?.reject(replError(`cannot load the context into agent ${agentId}'s REPL: ${error}`));
  }

  private markStarted(process: ReplProcess, stepId: number): void {
    const step = this.pendingSteps.get(stepId);
    if (step && step.process === process) step.started = true;
  }

  private settleStep(process: ReplProcess, stepId: number, outcomeBytes: Uint8Array): void {
    const step = this.pendingSteps.get(stepId);
    // A process may only settle steps the pool sent to it.
    if (!step || step.process !== process) return;
    this.finishStep(step);
    const placed = this.agents.get(step.agentId);
    if (placed) placed.contextBytes = null; // the namespace has moved on from its context: no rebuild
    let outcome: StepOutcome;
    try {
      outcome = JSON.parse(new TextDecoder().decode(outcomeBytes));
    } catch {
      // Only agent code forging a message produces this; it costs that step, not the run.
      return step.reject(replError(`agent ${step.agentId}'s step reported an unreadable result`));
    }
    // The runtime checks max_value_mb before it reports, but agent code can patch the runtime.
    const overCap = typeof outcome.final_json === "string"
      ? this.overValueCap(outcome.final_json.length, "the FINAL value")
      : null;
    step.resolve(
      overCap === null ? outcome : { ...outcome, error: `ValueError: ${overCap}`, final_json: null },
    );
  }

  // runtime.py's message for a value of `size` bytes (as JSON) over max_value_mb; null if within it.
  private overValueCap(size: number, what: string): string | null {
    if (size <= this.options.maxValueBytes) return null;
    const sizeMb = (size / BYTES_PER_MB).toFixed(1);
    const limitMb = this.options.maxValueBytes / BYTES_PER_MB;
    return `${what} is ${sizeMb} MB as JSON, over max_value_mb=${limitMb}. Pass or return something ` +
      `smaller (a summary, an index, a slice), or raise max_value_mb in the config.`;
  }

  private finishStep(step: PendingStep): void {
    this.pendingSteps.delete(step.stepId);
    if (this.runningStepOf.get(step.agentId) === step) this.runningStepOf.delete(step.agentId);
  }

  // The step's clock stops while it waits on the request: time spent in children, on the host or in
  // an MCP server is not the step's own.
  private async forwardRequest(
    process: ReplProcess,
    request: Extract<FromReplProcess, { kind: "agent_request" }>,
    payload: Uint8Array,
  ): Promise<void> {
    let replyJson: string;
    // A process may only ask on behalf of agents the pool placed on it, from a running step.
    const step = this.runningStepOf.get(request.agentId);
    const overCap = this.overValueCap(payload.length, `the ${request.requestKind} request`);
    if (this.agents.get(request.agentId)?.process !== process || !step) {
      replyJson = JSON.stringify({ ok: false, error: { type: "AgentError", message: "unknown agent" } });
    } else if (overCap !== null) {
      // The runtime checks this too, but agent code can patch the runtime.
      replyJson = JSON.stringify({ ok: false, error: { type: "ValueError", message: overCap } });
    } else {
      this.pauseClock(step);
      try {
        replyJson = await this.onAgentRequest(
          request.agentId,
          request.requestKind,
          new TextDecoder().decode(payload),
        );
      } finally {
        this.resumeClock(step);
      }
    }
    process.send({ kind: "agent_reply", requestId: request.requestId, replyJson });
  }

  private pauseClock(step: PendingStep): void {
    if (step.requestsOpen++ === 0 && step.activeSince !== null) {
      step.activeMs += performance.now() - step.activeSince;
      step.activeSince = null;
    }
  }

  private resumeClock(step: PendingStep): void {
    if (--step.requestsOpen === 0) step.activeSince = performance.now();
  }

  private watch(): void {
    const now = performance.now();
    // If this isolate itself was busy (a huge context parsed, a loaded machine), the frames that
    // arrived meanwhile are still unread: silence is not the processes' fault.
    if (now - this.lastWatchAt > SILENCE_LIMIT_MS / 2) {
      for (const process of this.processes) process.lastHeardAt = now;
    }
    this.lastWatchAt = now;
    for (const process of this.processes) {
      if (!process.alive || this.failedToStart.has(process)) continue;
      const rssMb = process.rssBytes / BYTES_PER_MB;
      if (rssMb > this.options.memoryLimitMb) {
        process.kill(
          `its REPL process used ${
            Math.round(rssMb)
          } MB, over repl_memory_mb=${this.options.memoryLimitMb}. ` +
            `Hold less in memory at once, or raise repl_memory_mb in the config`,
        );
      } else if (now - process.lastHeardAt > SILENCE_LIMIT_MS) {
        process.kill(`its REPL process stopped answering for ${SILENCE_LIMIT_MS / 1000} s`);
      }
    }
    const limitMs = this.options.stepTimeoutSeconds * 1000;
    // No step's clock runs while a new agent waits for its namespace, yet work left running by an
    // earlier step can hold the worker just the same: past the same limit, the process is replaced
    // (the waiting agent is rebuilt on the new one).
    for (const [agentId, pending] of this.pendingCreates) {
      const sentTo = pending.sentTo;
      if (sentTo === null || !sentTo.process.alive || now - sentTo.at < limitMs + KILL_GRACE_MS) continue;
      sentTo.process.kill(
        `its REPL process did not take on agent ${agentId} within step_timeout_s=` +
          `${this.options.stepTimeoutSeconds} (work left running by an earlier step held it), so it was replaced`,
      );
    }
    for (const step of this.pendingSteps.values()) {
      if (step.activeSince === null || !step.process.alive) continue;
      const overdueMs = step.activeMs + (now - step.activeSince) - limitMs;
      if (overdueMs < 0) continue;
      if (overdueMs > KILL_GRACE_MS) {
        step.process.kill(
          `step ${step.agentId}.${step.stepNumber} did not stop within ${KILL_GRACE_MS} ms after ` +
            `step_timeout_s=${this.options.stepTimeoutSeconds}, so its REPL process was replaced`,
        );
      } else if (!step.overdueSent) {
        step.overdueSent = true;
        step.process.send({ kind: "overdue_step", stepId: step.stepId });
      }
    }
  }

  // Starts a fresh process in place of one that ended. Agents whose namespace held only their
  // context (no step has run yet) are rebuilt on the new process, their queued step resent; the
  // others lost their state: their running step fails now and their later steps fail at once, typed.
  private replaceProcess(lost: ReplProcess, why: string): void {
    const fresh = this.startProcess();
    this.processes[this.processes.indexOf(lost)] = fresh;
    for (const [agentId, placed] of this.agents) {
      if (placed.process !== lost) continue;
      const step = this.runningStepOf.get(agentId);
      if (placed.contextBytes !== null && !step?.started && placed.rebuilds < MAX_REBUILDS) {
        placed.rebuilds += 1;
        placed.process = fresh;
        fresh.agentCount += 1;
        this.sendCreate(agentId, placed);
        if (step) {
          // Its clock restarts when it is dispatched again; until then it is not running anywhere.
          Object.assign(step, { process: fresh, activeMs: 0, activeSince: null });
          fresh.ready.then(() => {
            if (this.pendingSteps.has(step.stepId)) this.dispatchStep(step);
          }, () => {});
        }
        continue;
      }
      const lostError = replError(`agent ${agentId}'s REPL was lost: ${why}`);
      if (step) {
        this.finishStep(step);
        step.reject(lostError);
      }
      const pendingCreate = this.pendingCreates.get(agentId);
      this.pendingCreates.delete(agentId);
      pendingCreate?.reject(lostError);
    }
  }
}
