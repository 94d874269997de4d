// Drives the engine's REPL pool directly, with two real REPL processes, and hands it messages as
// if they had come from the wrong process: what a REPL process whose agent code forged its pipe
// would send. Prints one JSON line of what the pool did. Run by test_containment_placement.py.
import { PYODIDE_DIR, ReplPool } from "../../engine/repl/pool.ts";

const [launchJson, snapshotFile] = Deno.args;
const encoder = new TextEncoder();
const handled: string[] = [];
const pool = new ReplPool(
  {
    launch: { ...JSON.parse(launchJson), pyodideDir: PYODIDE_DIR },
    snapshotFile,
    size: 2,
    stepTimeoutSeconds: 30,
    memoryLimitMb: 2048,
    maxValueBytes: 1 << 20,
    environment: {},
  },
  (agentId, requestKind) => {
    handled.push(`${agentId}:${requestKind}`);
    return Promise.resolve(JSON.stringify({ ok: true, value: null }));
  },
);
const context = encoder.encode('"context"');
await pool.createAgent("a", null, context, false, {});
await pool.createAgent("b", "a", context, false, {}); // a child goes to the other process
const internals = pool as any;
const processOf = (agentId: string) => internals.agents.get(agentId).process;
const request = (agentId: string) => ({
  kind: "agent_request",
  requestId: 1,
  agentId,
  requestKind: "host_function",
});
const hostCall = encoder.encode(JSON.stringify({ name: "f", args: [], kwargs: {} }));
const forgedOutcome = encoder.encode(
  JSON.stringify({ stdout: "", stderr: "", error: null, final_json: '"FORGED"' }),
);

const stepOfA = pool.runStep("a", 1, "FINAL('a real')"); // a now has a running step
const [stepIdOfA] = internals.pendingSteps.keys();
internals.receive(processOf("b"), request("a"), hostCall);
internals.receive(processOf("b"), request("nobody"), hostCall);
internals.receive(processOf("b"), { kind: "step_done", stepId: stepIdOfA }, forgedOutcome);
const fromTheWrongProcess = [...handled];
internals.receive(processOf("a"), request("a"), hostCall); // the same request from a's own process
const fromItsOwnProcess = handled.slice(fromTheWrongProcess.length);
const outcome = await stepOfA;
console.log(JSON.stringify({
  samePlace: processOf("a") === processOf("b"),
  fromTheWrongProcess,
  fromItsOwnProcess,
  finalOfA: outcome.final_json,
}));
pool.shutdown();
Deno.exit(0);
