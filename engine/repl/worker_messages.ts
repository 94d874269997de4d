// Messages between the main isolate (pool.ts) and a REPL worker (worker.ts).

export type ToWorker =
  | { kind: "init"; snapshotFile: string | null; runtimeSource: string; interruptBuffer: SharedArrayBuffer }
  | { kind: "create_agent"; agentId: string; contextBytes: Uint8Array; contextIsText: boolean }
  | { kind: "run_step"; stepId: string; agentId: string; stepNumber: number; code: string }
  | { kind: "llm_reply"; queryId: number; replyJson: string }
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
  | { kind: "step_done"; stepId: string; outcomeJson: string }
  | { kind: "llm_query"; queryId: number; agentId: string; payloadJson: string };
