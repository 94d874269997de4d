// Engine entry point, spawned by the Python host (fast_rlm/engine_process.py). Reads the start
// message, runs the agent tree, and reports one result or fatal error. See protocol.ts.
import { EngineError, errorInfo } from "./errors.ts";
import { LlmClient } from "./llm_client.ts";
import { LogWriter } from "./log_writer.ts";
import {
  type HostMessage,
  readHostMessages,
  sendToHost,
  setProtocolToken,
  type StartMessage,
} from "./protocol.ts";
import { ensureSnapshot, ReplPool } from "./repl/pool.ts";
import { Run } from "./run.ts";
import { preview, typeName } from "./context_description.ts";

async function main(): Promise<void> {
  const messages = readHostMessages();
  const first = await messages.next();
  if (first.done || first.value.type !== "start") throw new Error("the host must send a start message first");
  const start = first.value as StartMessage;
  setProtocolToken(start.protocol_token);
  const startedAt = performance.now();
  const log = new LogWriter(start.log_file, start.run_id, [start.api_key]);
  const config = start.config;
  const workerCount = config.workers > 0 ? config.workers : navigator.hardwareConcurrency;
  log.write({
    event: "run_start",
    config: { ...config },
    query_type: typeName(start.query),
    query_chars: typeof start.query === "string" ? start.query.length : JSON.stringify(start.query).length,
    query_preview: preview(start.query),
    instruction: start.instruction,
    workers: workerCount,
  });

  let run: Run | null = null;
  let pool: ReplPool | null = null;
  let runTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    await ensureSnapshot(start.snapshot_file);
    const llm = new LlmClient({
      baseUrl: config.base_url,
      apiKey: start.api_key,
      timeoutSeconds: config.llm_timeout_s,
      maxRetries: config.llm_max_retries,
    });
    pool = new ReplPool(
      { snapshotFile: start.snapshot_file, size: workerCount, stepTimeoutSeconds: config.step_timeout_s },
      (agentId, payload) => run!.handleChildQuery(agentId, payload),
    );
    run = new Run(config, llm, pool, log);
    listenForHostMessages(messages, run);
    if (config.run_timeout_s !== null) {
      const timedOut = new EngineError("RunTimeoutError", `run_timeout_s=${config.run_timeout_s} elapsed`);
      runTimer = setTimeout(() => run!.stop(timedOut), config.run_timeout_s * 1000);
    }
    const results = await run.runRoot(start.query, start.instruction);
    const usage = run.usage.snapshot();
    log.write({
      event: "run_end",
      status: "ok",
      results,
      usage,
      duration_s: (performance.now() - startedAt) / 1000,
    });
    sendToHost({ type: "result", results, usage });
  } catch (error) {
    const usage = run?.usage.snapshot() ??
      { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, llm_calls: 0, agents: 0, cost: null };
    const info = errorInfo(error);
    log.write({
      event: "run_end",
      status: info.type === "CancelledError" ? "cancelled" : "error",
      error: info,
      usage,
      duration_s: (performance.now() - startedAt) / 1000,
    });
    sendToHost({ type: "fatal", error: info, partial_results: run?.finishedResults ?? {}, usage });
  } finally {
    clearTimeout(runTimer);
    pool?.shutdown();
    log.close();
  }
}

// After the start message the host may only ask to cancel; closing stdin (the host died) cancels too.
async function listenForHostMessages(messages: AsyncGenerator<HostMessage>, run: Run): Promise<void> {
  try {
    for await (const message of messages) if (message.type === "cancel") run.cancel();
  } finally {
    run.cancel();
  }
}

await main();
Deno.exit(0);
