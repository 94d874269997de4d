// Messages between the main isolate (pool.ts) and a REPL worker (worker.ts).

// The worker's control block, a SharedArrayBuffer of Int32 cells that both sides read without
// waiting for the other's event loop.
export const CONTROL_CELLS = 3;
export const INTERRUPT_CELL = 0; // Pyodide's interrupt buffer: 2 = SIGINT
export const HEARTBEAT_CELL = 1; // ms since the pool started, written while the worker's loop is free
export const OVERDUE_STEP_CELL = 2; // the step the pool wants interrupted

export type ToWorker =
  | {
    kind: "init";
    snapshotFile: string | null;
    // Python modules to import, in order (name -> source); the first is the runtime itself.
    pythonModules: [string, string][];
    environmentJson: string;
    control: SharedArrayBuffer;
    clockOrigin: number;
    timeoutMessage: string;
  }
  | {
    kind: "create_agent";
    agentId: string;
    contextBytes: Uint8Array;
    contextIsText: boolean;
    setupJson: string;
  }
  | { kind: "run_step"; stepId: number; agentId: string; stepNumber: number; code: string }
  | { kind: "cancel_step"; stepId: number }
  | { kind: "agent_reply"; requestId: number; replyJson: string }
  | { kind: "drop_agent"; agentId: string };

export type StepOutcome = {
  stdout: string;
  stderr: string;
  error: string | null;
  final_json: string | null;
};

export type FromWorker =
  | { kind: "ready"; loadMs: number }
  | { kind: "snapshot"; bytes: Uint8Array }
  | { kind: "init_failed"; message: string }
  | { kind: "agent_created"; agentId: string; error: string | null }
  | { kind: "step_started"; stepId: number }
  | { kind: "step_done"; stepId: number; outcomeJson: string }
  // A call from agent code to the engine: a child agent (llm_query), a host function, an MCP tool...
  | { kind: "agent_request"; requestId: number; agentId: string; requestKind: string; payloadJson: string };
