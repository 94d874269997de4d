/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// A REPL worker: one Pyodide interpreter, restored from a memory snapshot, hosting many agents'
// namespaces (runtime.py). Runs with no net, env, write, run, ffi or sys permission; it can read only
// the Pyodide files and the snapshot.
import { loadPyodide, type PyodideAPI } from "pyodide";
import {
  CONTROL_CELLS,
  type FromWorker,
  HEARTBEAT_CELL,
  OVERDUE_STEP_CELL,
  type ToWorker,
} from "./worker_messages.ts";

const HEARTBEAT_INTERVAL_MS = 20;

let pyodide: PyodideAPI;
let runtime: any;
let nextRequestId = 0;
const pendingRequests = new Map<number, (replyJson: string) => void>();

// Bound now: agent code can reach this worker's globals through `import js` and may replace them.
const postToPool = self.postMessage.bind(self);
const post = (message: FromWorker, transfer: Transferable[] = []) => postToPool(message, transfer);

// Agent code reaches this worker's globals through `import js`. Once the interpreter is loaded it
// must not be able to write to the process's stdout or stderr (the host protocol travels there),
// signal or end the process or the worker, start nested workers, reach Deno's internals, or post
// messages to the pool as if it were this file.
function sealWorkerGlobals(): void {
  const seal = (target: object, name: PropertyKey, value: unknown) =>
    Object.defineProperty(target, name, { value, writable: false, configurable: false });
  const denoNamespace = Deno as unknown as Record<PropertyKey, unknown>;
  for (const name of ["exit", "kill", "stdout", "stderr", "stdin", Symbol.for("Deno.internal")]) {
    seal(denoNamespace, name, undefined);
  }
  const internalKey = (Deno as unknown as { internal?: symbol }).internal;
  if (internalKey !== undefined) seal(denoNamespace, internalKey, undefined);
  seal(denoNamespace, "internal", undefined);
  const silentConsole = Object.fromEntries(Object.keys(console).map((method) => [method, () => {}]));
  seal(globalThis, "console", Object.freeze(silentConsole));
  for (const name of ["close", "postMessage", "Worker", "process"]) seal(globalThis, name, undefined);
}
self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.kind) {
    case "init":
      return await init(message);
    case "create_agent": {
      let error: string | null = null;
      try {
        runtime.create_agent(message.agentId, message.contextBytes, message.contextIsText, message.setupJson);
      } catch (failure) {
        error = String(failure);
      }
      return post({ kind: "agent_created", agentId: message.agentId, error });
    }
    case "run_step":
      return runtime.start_step(message.stepId, message.agentId, message.stepNumber, message.code);
    case "cancel_step":
      return runtime.cancel_step(message.stepId);
    case "agent_reply": {
      const resolve = pendingRequests.get(message.requestId);
      pendingRequests.delete(message.requestId);
      return resolve?.(message.replyJson);
    }
    case "drop_agent":
      return runtime.drop_agent(message.agentId);
  }
};

async function init(message: Extract<ToWorker, { kind: "init" }>) {
  const started = performance.now();
  const control = new Int32Array(message.control, 0, CONTROL_CELLS);
  try {
    if (message.snapshotFile === null) {
      // Make the snapshot of the bare interpreter: nothing imported beyond what Pyodide loads itself.
      const fresh = await loadPyodide({ _makeSnapshot: true } as any);
      return post({ kind: "snapshot", bytes: (fresh as any).makeMemorySnapshot() });
    }
    pyodide = await loadPyodide({ _loadSnapshot: Deno.readFileSync(message.snapshotFile) } as any);
    // Anything an agent prints goes through runtime.py's routers; this catches only stray output.
    pyodide.setStdout({ batched: () => {} });
    pyodide.setStderr({ batched: () => {} });
    pyodide.setInterruptBuffer(control);
    // The heartbeat only advances while this worker's event loop is free: a stale one tells the pool
    // that Python code is holding the worker.
    const beat = () => Atomics.store(control, HEARTBEAT_CELL, Date.now() - message.clockOrigin);
    beat();
    setInterval(beat, HEARTBEAT_INTERVAL_MS);
    sealWorkerGlobals();
    pyodide.registerJsModule("_rlm_host", {
      request: (agentId: string, requestKind: string, payloadJson: string) =>
        new Promise<string>((resolve) => {
          const requestId = ++nextRequestId;
          pendingRequests.set(requestId, resolve);
          post({ kind: "agent_request", requestId, agentId, requestKind, payloadJson });
        }),
      step_started: (stepId: number) => post({ kind: "step_started", stepId }),
      step_done: (stepId: number, outcomeJson: string) => post({ kind: "step_done", stepId, outcomeJson }),
      overdue_step: () => Atomics.load(control, OVERDUE_STEP_CELL),
    });
    pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/rlm')");
    pyodide.FS.mkdirTree("/home/pyodide/rlm");
    for (const [name, source] of message.pythonModules) {
      pyodide.FS.writeFile(`/home/pyodide/rlm/${name}.py`, source);
      pyodide.pyimport(name);
    }
    runtime = pyodide.pyimport(message.pythonModules[0][0]);
    runtime.set_environment(message.environmentJson);
    runtime.configure(message.timeoutMessage);
    post({ kind: "ready", loadMs: performance.now() - started });
  } catch (error) {
    post({ kind: "init_failed", message: String(error instanceof Error ? error.stack : error) });
  }
}
