/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// The Pyodide worker of a REPL process: one interpreter, restored from a memory snapshot, hosting
// many agents' namespaces (runtime.py). Agent code runs here. The process has no permission but
// reading Pyodide's files and the snapshot, and code generation from strings is disallowed, so
// `js.eval` and Function constructors fail. On top of that, Python's `js` module sees only an
// allow-listed globals object, Pyodide's own JS API is unregistered once the runtime is set up, and
// the storage APIs (the only writes Deno makes without a permission check) are removed.
//
// The worker has no network permission either. Python's `js.fetch` is a stand-in that hands each
// request to the supervisor (http_relay.ts), the one part of the process granted allow_net's hosts;
// requests (through urllib3's Pyodide backend), pyodide.http.pyfetch, httpx and urllib.request
// (http_clients.py, put in place by http_hooks.py) all go through it.
import { loadPyodide, type PyodideAPI } from "pyodide";
import {
  CONTROL_CELLS,
  type FromWorker,
  GC_GLOBAL,
  HEARTBEAT_CELL,
  type HttpReply,
  OVERDUE_CELLS,
  OVERDUE_FIRST_CELL,
  PostBatch,
  type ToWorker,
} from "./repl_messages.ts";

const HEARTBEAT_INTERVAL_MS = 20;
// Sealed before Pyodide loads: storage that would outlive the process, nested workers (a fresh
// realm), and this process's stdio (the supervisor's pipes to the engine).
const SEALED_GLOBALS = [
  "caches",
  "CacheStorage",
  "Cache",
  "localStorage",
  "sessionStorage",
  "indexedDB",
  "Worker",
];
const SEALED_DENO_MEMBERS = ["stdin", "stdout", "stderr", "openKv"];

let pyodide: PyodideAPI;
let runtime: any;
let nextRequestId = 0;
const pendingRequests = new Map<number, (replyJson: string) => void>();
let nextHttpRequestId = 0;
const pendingHttp = new Map<number, (reply: HttpReply) => void>();

// Bound now, before agent code could replace the globals.
const postToSupervisor = self.postMessage.bind(self);
const queueTask = queueMicrotask.bind(globalThis);

// Messages for the supervisor wait in an outbox and go in one postMessage: at the end of the current
// turn, when a step starts (its outcome must not wait on the next step's code), and before each batch
// callback of the event loop (runtime.py), so a finished step's outcome never waits on code that runs
// on after it.
const outbox = new PostBatch<FromWorker>(postToSupervisor, queueTask);
const post = (message: FromWorker, transfer: Transferable[] = []) => outbox.add(message, transfer);
const flushOutbox = () => outbox.flush();

// The supervisor posts what the engine sent in batches (supervisor.ts).
self.onmessage = (event: MessageEvent<ToWorker[]>) => {
  for (const message of event.data) receive(message);
};

async function receive(message: ToWorker): Promise<void> {
  switch (message.kind) {
    case "init":
      return await init(message);
    case "make_snapshot":
      return await makeSnapshot(message);
    case "create_agent": {
      let error: string | null = null;
      try {
        runtime.create_agent(
          message.agentId,
          message.contextBytes,
          message.contextIsText,
          message.setupJson,
          channelFor(message.agentId),
        );
      } catch (failure) {
        error = String(failure);
      }
      // The namespace holds its own copy now. Detaching the bytes frees them at once, where a
      // collection might come much later: a 500 MB context would otherwise count twice against
      // repl_memory_mb.
      (message.contextBytes.buffer as ArrayBuffer).transfer(0);
      return post({ kind: "agent_created", agentId: message.agentId, error });
    }
    case "run_step": {
      const reporter = stepReporter(message.stepId);
      try {
        runtime.start_step(message.stepId, message.agentId, message.stepNumber, message.code, reporter);
      } catch (failure) {
        // The agent's namespace is gone (dropped) or the runtime broke: the step fails, typed.
        const error = `the REPL could not run the step: ${
          failure instanceof Error ? failure.message : failure
        }`;
        reporter.done(JSON.stringify({ stdout: "", stderr: "", error, final_json: null }));
      }
      return;
    }
    case "cancel_step":
      return runtime.cancel_step(message.stepId);
    case "agent_reply": {
      const resolve = pendingRequests.get(message.requestId);
      pendingRequests.delete(message.requestId);
      return resolve?.(message.replyJson);
    }
    case "drop_agent":
      return runtime.drop_agent(message.agentId);
    case "http_reply": {
      const settle = pendingHttp.get(message.requestId);
      pendingHttp.delete(message.requestId);
      return settle?.(message);
    }
  }
}

// An agent's line to the engine, bound to its id here, so the runtime hands each agent only its own.
function channelFor(agentId: string) {
  return {
    request: (requestKind: string, payloadJson: string) =>
      new Promise<string>((resolve) => {
        const requestId = ++nextRequestId;
        pendingRequests.set(requestId, resolve);
        post({ kind: "agent_request", requestId, agentId, requestKind, payloadJson });
      }),
  };
}

// Reports one step's start and outcome, each at most once.
function stepReporter(stepId: number) {
  let started = false;
  let done = false;
  return {
    started: () => {
      if (!started) {
        // At once: the engine must know the step began even if its code then holds the worker.
        post({ kind: "step_started", stepId });
        flushOutbox();
      }
      started = true;
    },
    done: (outcomeJson: string) => {
      if (!done) post({ kind: "step_done", stepId, outcomeJson });
      done = true;
    },
  };
}

// fetch as Python code sees it: the request goes to the supervisor, which performs it within the
// network grant. The step it belongs to rides along, so an overdue step's requests end with it.
async function relayedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer());
  const requestId = ++nextHttpRequestId;
  const stepId: number = runtime.current_step_id();
  const signal = request.signal;
  signal.throwIfAborted();
  const reply = await new Promise<HttpReply>((resolve, reject) => {
    const abandon = () => {
      pendingHttp.delete(requestId);
      post({ kind: "http_cancel", requestId });
      reject(signal.reason);
    };
    signal.addEventListener("abort", abandon, { once: true });
    pendingHttp.set(requestId, (reply) => {
      signal.removeEventListener("abort", abandon);
      resolve(reply);
    });
    const { method, url, redirect } = request;
    const headers = [...request.headers];
    post(
      { kind: "http_request", requestId, stepId, method, url, headers, body, redirect },
      body ? [body.buffer] : [],
    );
  });
  if (!reply.ok) throw new TypeError(reply.error);
  const withoutBody = [101, 103, 204, 205, 304].includes(reply.status);
  const response = new Response(withoutBody ? null : reply.body, {
    status: reply.status,
    statusText: reply.statusText,
    headers: reply.headers,
  });
  Object.defineProperties(response, { url: { value: reply.url }, redirected: { value: reply.redirected } });
  return response;
}

// What Python's `js` module shows: plain data types, promises and the web's HTTP types with the
// relayed fetch, nothing that reaches Deno, the process or storage.
function allowedJsGlobals(): Record<string, unknown> {
  const names = [
    "Object",
    "Array",
    "Promise",
    "JSON",
    "Math",
    "Number",
    "String",
    "Boolean",
    "Date",
    "Map",
    "Set",
  ];
  const allowed: Record<string, unknown> = {};
  const http = [
    "Request",
    "Response",
    "Headers",
    "AbortController",
    "AbortSignal",
    "setTimeout",
    "clearTimeout",
  ];
  for (const name of [...names, "Error", "Uint8Array", "ArrayBuffer", "WeakRef", ...http]) {
    allowed[name] = (globalThis as Record<string, unknown>)[name];
  }
  allowed.fetch = relayedFetch;
  return allowed;
}

function seal(target: object, name: PropertyKey): void {
  Object.defineProperty(target, name, { value: undefined, writable: false, configurable: false });
}

function sealProcessGlobals(): void {
  // console writes to the process's stdout, which carries the protocol; stray output is dropped.
  const silentConsole = Object.fromEntries(Object.keys(console).map((method) => [method, () => {}]));
  Object.defineProperty(globalThis, "console", {
    value: Object.freeze(silentConsole),
    writable: false,
    configurable: false,
  });
  for (const name of SEALED_GLOBALS) seal(globalThis, name);
  for (const name of SEALED_DENO_MEMBERS) seal(Deno, name);
}

// The runtime's modules go where every process finds them; imported here, they are in the snapshot.
const MODULES_DIR = "/home/pyodide/rlm";

function writeModules(interpreter: PyodideAPI, modules: [string, string][]): void {
  interpreter.FS.mkdirTree(MODULES_DIR);
  for (const [name, source] of modules) interpreter.FS.writeFile(`${MODULES_DIR}/${name}.py`, source);
}

async function makeSnapshot(message: Extract<ToWorker, { kind: "make_snapshot" }>): Promise<void> {
  try {
    // The interpreter with the runtime's modules imported: what they set up at import is the same for
    // every run; the run's own settings arrive with configure().
    const fresh = await loadPyodide({ _makeSnapshot: true } as any);
    writeModules(fresh, message.pythonModules);
    fresh.runPython(`import sys; sys.path.insert(0, '${MODULES_DIR}')`);
    for (const name of message.pythonImports) fresh.pyimport(name);
    post({ kind: "snapshot", bytes: (fresh as any).makeMemorySnapshot() });
  } catch (error) {
    post({ kind: "init_failed", message: String(error instanceof Error ? error.stack : error) });
  }
}

// A full collection once the interpreter is up returns the snapshot file's bytes (30 MB of a REPL
// process's 200) to the system at once; left to itself, V8 keeps them until memory runs short. The
// process starts with the collector exposed under a private name (repl_process.ts), taken here and
// cleared from the global, which is not configurable, so agent code never finds it.
const collectGarbage: (() => void) | undefined = (globalThis as any)[GC_GLOBAL];
(globalThis as any)[GC_GLOBAL] = undefined;

function freeSnapshotBytes(): void {
  collectGarbage?.();
}

async function init(message: Extract<ToWorker, { kind: "init" }>): Promise<void> {
  const control = new Int32Array(message.control, 0, CONTROL_CELLS);
  try {
    sealProcessGlobals();
    pyodide = await loadPyodide({
      _loadSnapshot: Deno.readFileSync(message.snapshotFile),
      jsglobals: allowedJsGlobals(),
    } as any);
    // The snapshot is in the interpreter's memory now, but Pyodide's config still holds the file's
    // bytes (30 MB): let them go (see freeSnapshotBytes below).
    (pyodide as any)._api.config._loadSnapshot = undefined;
    // Anything an agent prints goes through runtime.py's routers; these catch only stray output
    // (os.write(1, ...), sys.__stdout__), dropped as it comes: gathered into lines, a flood with no
    // newline would grow this process to its memory limit. Stdin reads see end of file: the
    // process's real stdin is the engine's pipe, and a read would block the worker on it.
    const dropped = { write: (buffer: Uint8Array) => buffer.length };
    pyodide.setStdout(dropped);
    pyodide.setStderr(dropped);
    pyodide.setStdin({ stdin: () => null });
    pyodide.setInterruptBuffer(control);
    // The heartbeat only advances while this worker's event loop is free: a stale one tells the
    // supervisor that Python code is holding the worker.
    const beat = () => Atomics.store(control, HEARTBEAT_CELL, Date.now() - message.clockOrigin);
    beat();
    setInterval(beat, HEARTBEAT_INTERVAL_MS);
    // The snapshot has the modules imported and their directory on sys.path; the files are written
    // again for those imported later and for tracebacks.
    writeModules(pyodide, message.pythonModules);
    pyodide.FS.writeFile(`${MODULES_DIR}/packages.zip`, Deno.readFileSync(message.pythonPackagesFile));
    pyodide.runPython(`import sys; sys.path.append('${MODULES_DIR}/packages.zip')`);
    runtime = pyodide.pyimport(message.runtimeModule);
    // The event loop's queued callbacks run in batches, one message on this channel a batch
    // (ready_queue.py); promising, so a callback can suspend through JSPI.
    const readyChannel = new MessageChannel();
    const runReady = runtime.run_ready;
    // run_ready catches what callbacks raise: what still comes out is the interpreter itself failing
    // (os._exit, a wasm trap). Thrown uncaught, it ends the process, which the engine replaces.
    readyChannel.port1.onmessage = () =>
      runReady.callPromising().catch((failure: unknown) =>
        setTimeout(() => {
          throw failure;
        })
      );
    runtime.configure(
      message.timeoutMessage,
      message.maxValueBytes,
      (stepId: number) =>
        control.subarray(OVERDUE_FIRST_CELL, OVERDUE_FIRST_CELL + OVERDUE_CELLS).includes(stepId),
      () => readyChannel.port2.postMessage(null),
      flushOutbox,
    );
    runtime.set_environment(message.environmentJson);
    // The runtime has bound what it needs; agent code must not reach Pyodide's loaders, FS mounts
    // or interrupt buffer.
    pyodide.unregisterJsModule("pyodide_js");
    runtime.forget_modules(["pyodide_js", "pyodide_js._api", "pyodide_js._module"]);
    post({ kind: "ready" });
    freeSnapshotBytes();
  } catch (error) {
    post({ kind: "init_failed", message: String(error instanceof Error ? error.stack : error) });
  }
}
