// The main module of a REPL process. The engine starts it with no permission beyond reading
// Pyodide's files, the snapshot and worker.ts, an empty environment and code generation from
// strings disallowed. It owns the pipes to the engine and the worker's control block; Pyodide and
// agent code run in one worker beside it, so this isolate stays responsive while Python holds the
// worker: it reports the process's memory on a timer and interrupts an overdue step.
//
// Nothing here trusts the worker: whatever it posts is framed and sent on, and the engine checks it.
// Its HTTP requests are performed here (http_relay.ts), within the process's network grant.
import { type Frame, FrameReader, FrameWriter } from "./frames.ts";
import { HttpRelay } from "./http_relay.ts";
import {
  CONTROL_CELLS,
  type FromWorker,
  GC_GLOBAL,
  HEARTBEAT_CELL,
  INTERRUPT_CELL,
  OVERDUE_CELLS,
  OVERDUE_FIRST_CELL,
  PostBatch,
  type ToReplProcess,
  type ToWorker,
} from "./repl_messages.ts";

// The collector V8 exposes for the worker (repl_process.ts) has no use in this isolate.
(globalThis as Record<string, unknown>)[GC_GLOBAL] = undefined;

const STATUS_INTERVAL_MS = 50;
const INTERRUPT_CHECK_MS = 20;
const STALE_HEARTBEAT_MS = 60; // the worker's loop has not run for this long: Python holds it
const REINTERRUPT_MS = 50; // an interrupt that was swallowed is sent again (the runtime escalates)
const SIGINT = 2;
// What the engine may send in one frame: a context can be hundreds of MB.
const MAX_INBOUND_FRAME_BYTES = 2 ** 32 - 1;

const encoder = new TextEncoder();
const toEngine = new FrameWriter(Deno.stdout.writable.getWriter());
const fromEngine = new FrameReader<ToReplProcess>(Deno.stdin.readable, MAX_INBOUND_FRAME_BYTES);
const clockOrigin = Date.now(); // the worker's heartbeat counts ms from here
const controlBuffer = new SharedArrayBuffer(CONTROL_CELLS * 4);
const control = new Int32Array(controlBuffer);
// The worker reads what this process may read (Pyodide, the snapshot, the packages) and nothing more:
// in particular not the network this process may have been granted (allow_net), which only the relay
// below uses.
const worker = new Worker(new URL("./worker.ts", import.meta.url), {
  type: "module",
  deno: {
    permissions: {
      read: "inherit",
      net: false,
      env: false,
      write: false,
      run: false,
      ffi: false,
      sys: false,
      import: false,
    },
  },
});
let httpRelay: HttpRelay | null = null; // made on init, which says how large a response may be

// The worker posts its messages in batches (worker.ts); each goes on to the engine as a frame, and the
// frames of one batch leave in one write (frames.ts).
worker.onmessage = (event: MessageEvent<FromWorker[]>) => {
  for (const message of event.data) fromWorker(message);
};

function fromWorker(message: FromWorker): void {
  switch (message.kind) {
    case "snapshot":
      return toEngine.send({ kind: "snapshot" }, message.bytes);
    case "step_done":
      stopInterrupting(message.stepId);
      return toEngine.send(
        { kind: "step_done", stepId: message.stepId },
        encoder.encode(message.outcomeJson),
      );
    case "http_request":
      if (httpRelay === null) {
        return post({ kind: "http_reply", requestId: message.requestId, ok: false, error: "not ready" });
      }
      httpRelay.relay(message);
      return;
    case "http_cancel":
      return httpRelay?.cancel(message.requestId);
    case "agent_request": {
      const { requestId, agentId, requestKind, payloadJson } = message;
      return toEngine.send(
        { kind: "agent_request", requestId, agentId, requestKind },
        encoder.encode(payloadJson),
      );
    }
    default:
      return toEngine.send(message);
  }
}
// An uncaught error in the worker (the interpreter died) ends the process: the engine sees the exit
// and replaces it.
worker.onerror = (event) => {
  event.preventDefault();
  Deno.exit(70);
};

setInterval(() => toEngine.send({ kind: "status", rssBytes: Deno.memoryUsage().rss }), STATUS_INTERVAL_MS);

// ---- overdue steps -------------------------------------------------------------------------------
// A step past step_timeout_s is first cancelled through the worker's loop (it is awaiting
// something). If Python holds the worker instead, the heartbeat goes stale and the step is
// interrupted through Pyodide's interrupt buffer; the runtime raises only inside agent code.
const overdueSteps = new Set<number>();
let interruptTimer: ReturnType<typeof setInterval> | null = null;
let lastInterruptAt = 0;

function markOverdue(stepId: number): void {
  overdueSteps.add(stepId);
  // A free cell, or when all are taken (hundreds of overdue steps), the oldest entry's.
  let cell = OVERDUE_FIRST_CELL + (overdueSteps.size - 1) % OVERDUE_CELLS;
  for (let index = OVERDUE_FIRST_CELL; index < OVERDUE_FIRST_CELL + OVERDUE_CELLS; index++) {
    if (Atomics.load(control, index) === 0) {
      cell = index;
      break;
    }
  }
  Atomics.store(control, cell, stepId);
  httpRelay?.cancelStep(stepId);
  post({ kind: "cancel_step", stepId });
  interruptTimer ??= setInterval(interruptIfHeld, INTERRUPT_CHECK_MS);
}

function interruptIfHeld(): void {
  const now = Date.now();
  const heartbeatAge = now - clockOrigin - Atomics.load(control, HEARTBEAT_CELL);
  if (heartbeatAge > STALE_HEARTBEAT_MS && now - lastInterruptAt > REINTERRUPT_MS) {
    lastInterruptAt = now;
    Atomics.store(control, INTERRUPT_CELL, SIGINT);
  }
}

function stopInterrupting(stepId: number): void {
  if (!overdueSteps.delete(stepId)) return;
  for (let index = OVERDUE_FIRST_CELL; index < OVERDUE_FIRST_CELL + OVERDUE_CELLS; index++) {
    if (Atomics.load(control, index) === stepId) Atomics.store(control, index, 0);
  }
  if (overdueSteps.size === 0 && interruptTimer !== null) {
    clearInterval(interruptTimer);
    interruptTimer = null;
  }
}

// Messages for the worker: all the frames one read brought go in one postMessage (repl_messages.ts).
const toWorker = new PostBatch<ToWorker>(
  (messages, transfer) => worker.postMessage(messages, transfer),
  (task) => queueMicrotask(task),
);

function post(message: ToWorker, transfer: Transferable[] = []): void {
  toWorker.add(message, transfer);
}

function fromEngineFrame(frame: Frame<ToReplProcess>): void {
  const message = frame.message;
  switch (message.kind) {
    case "init":
      httpRelay = new HttpRelay(
        message.maxValueBytes,
        (reply) => post(reply, reply.ok ? [reply.body.buffer as ArrayBuffer] : []),
      );
      post({ ...message, control: controlBuffer, clockOrigin });
      break;
    case "create_agent":
      post({ ...message, contextBytes: frame.payload }, [frame.payload.buffer as ArrayBuffer]);
      break;
    case "overdue_step":
      markOverdue(message.stepId);
      break;
    default:
      post(message);
  }
}

// ---- messages from the engine --------------------------------------------------------------------
try {
  for (let frame = await fromEngine.next(); frame !== null; frame = await fromEngine.next()) {
    fromEngineFrame(frame);
    for (let more = fromEngine.nextBuffered(); more !== null; more = fromEngine.nextBuffered()) {
      fromEngineFrame(more);
    }
  }
} catch {
  // A garbled channel: nothing more can be understood, so the process ends.
}
Deno.exit(0); // the engine closed the pipe (or garbled it): this process has nothing left to do
