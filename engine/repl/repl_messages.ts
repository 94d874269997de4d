// Messages between the engine (pool.ts), a REPL process's supervisor (supervisor.ts) and its Pyodide
// worker (worker.ts). The engine and the supervisor exchange frames (frames.ts): a JSON message and
// a payload of raw bytes. The supervisor passes most messages on to the worker as they are.
//
// Everything that comes out of a REPL process is untrusted: agent code runs there and may forge or
// garble any of it. The engine checks each message against its own record of what it placed there.

// The worker's control block, a SharedArrayBuffer of Int32 cells shared by the supervisor and the
// worker, read without waiting for the other's event loop.
export const INTERRUPT_CELL = 0; // Pyodide's interrupt buffer: 2 = SIGINT
export const HEARTBEAT_CELL = 1; // ms since the process started, written while the worker's loop is free
// The steps the engine wants stopped, one id a cell (0: free). Several can be overdue at once (steps
// queued behind one that holds the interpreter), and the interrupt must reach whichever runs.
export const OVERDUE_FIRST_CELL = 2;
export const OVERDUE_CELLS = 256;
export const CONTROL_CELLS = OVERDUE_FIRST_CELL + OVERDUE_CELLS;

// The global under which V8 exposes its garbage collector in a REPL process (--expose-gc-as): the
// worker takes it once to free the snapshot file's bytes after a restore, and clears it.
export const GC_GLOBAL = "__rlm_collect_garbage";

// Engine -> REPL process. The payload, where there is one, is named in the comment.
export type ToReplProcess =
  | {
    kind: "init";
    snapshotFile: string;
    pythonPackagesFile: string; // a zip of pure-Python packages, put on sys.path
    pythonModules: [string, string][]; // name -> source, written into the interpreter's files
    runtimeModule: string; // imported into the snapshot with the others (make_snapshot)
    environmentJson: string;
    timeoutMessage: string;
    maxValueBytes: number;
  }
  // The interpreter after importing the runtime's modules (name -> source), saved for every process.
  | { kind: "make_snapshot"; pythonModules: [string, string][]; pythonImports: string[] }
  | { kind: "create_agent"; agentId: string; contextIsText: boolean; setupJson: string } // payload: context
  | { kind: "run_step"; stepId: number; agentId: string; stepNumber: number; code: string }
  | { kind: "overdue_step"; stepId: number } // past step_timeout_s: cancel it, or interrupt it
  | { kind: "agent_reply"; requestId: number; replyJson: string }
  | { kind: "drop_agent"; agentId: string };

// REPL process -> engine.
export type FromReplProcess =
  | { kind: "status"; rssBytes: number } // the supervisor's heartbeat, sent on a timer
  | { kind: "ready" }
  | { kind: "init_failed"; message: string }
  | { kind: "snapshot" } // payload: the snapshot
  | { kind: "agent_created"; agentId: string; error: string | null }
  | { kind: "step_started"; stepId: number }
  | { kind: "step_done"; stepId: number } // payload: the StepOutcome as JSON
  // A call from agent code to the engine: a child agent (llm_query), a host function, an MCP tool...
  | { kind: "agent_request"; requestId: number; agentId: string; requestKind: string }; // payload: JSON

// Supervisor -> worker: what the engine sent, with the payload moved into the message.
export type ToWorker =
  | (Extract<ToReplProcess, { kind: "init" }> & { control: SharedArrayBuffer; clockOrigin: number })
  | Extract<ToReplProcess, { kind: "make_snapshot" }>
  | {
    kind: "create_agent";
    agentId: string;
    contextIsText: boolean;
    setupJson: string;
    contextBytes: Uint8Array;
  }
  | Extract<ToReplProcess, { kind: "run_step" | "agent_reply" | "drop_agent" }>
  | { kind: "cancel_step"; stepId: number }
  | HttpReply;

// Worker -> supervisor: what goes on to the engine, with bulk data as a string or bytes to frame.
export type FromWorker =
  | Extract<FromReplProcess, { kind: "ready" | "init_failed" | "agent_created" | "step_started" }>
  | { kind: "snapshot"; bytes: Uint8Array }
  | { kind: "step_done"; stepId: number; outcomeJson: string }
  | { kind: "agent_request"; requestId: number; agentId: string; requestKind: string; payloadJson: string }
  | HttpRequest
  | { kind: "http_cancel"; requestId: number }; // the caller gave up (a timeout, a cancelled task)

// HTTP from agent code. The worker has no network permission: it hands each request to the supervisor,
// the only part of the process granted allow_net's hosts, which fetches it and replies. `stepId` is the
// step whose code asked (0: none), so an overdue step's requests end with it.
export type HttpRequest = {
  kind: "http_request";
  requestId: number;
  stepId: number;
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer> | null;
  redirect: RequestRedirect; // "follow": the supervisor follows, each hop within the grant
};

export type HttpReply =
  | {
    kind: "http_reply";
    requestId: number;
    ok: true;
    status: number;
    statusText: string;
    headers: [string, string][]; // without content-encoding: the body arrives decoded
    url: string; // after redirects
    redirected: boolean;
    body: Uint8Array<ArrayBuffer>;
  }
  | { kind: "http_reply"; requestId: number; ok: false; error: string };

export type StepOutcome = {
  stdout: string;
  stderr: string;
  error: string | null;
  final_json: string | null;
  session_state?: unknown; // a session root's namespace after the step (engine/repl/session_state.py)
};

// Messages between the supervisor and its worker wait for the end of the current turn and cross in
// one postMessage (each wakes the other thread once): a read from the engine's pipe often brings many
// frames, and a batch of steps many outcomes. `flush` sends what waits at once.
export class PostBatch<Message> {
  private messages: Message[] = [];
  private transfer: Transferable[] = [];

  constructor(
    private postAll: (messages: Message[], transfer: Transferable[]) => void,
    private queueTask: (task: () => void) => void,
  ) {}

  add(message: Message, transfer: Transferable[] = []): void {
    if (this.messages.length === 0) this.queueTask(() => this.flush());
    this.messages.push(message);
    this.transfer.push(...transfer);
  }

  flush(): void {
    if (this.messages.length === 0) return;
    const [messages, transfer] = [this.messages, this.transfer];
    this.messages = [];
    this.transfer = [];
    this.postAll(messages, transfer);
  }
}
