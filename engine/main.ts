// Engine entry point, spawned by the Python host (fast_rlm/host/engine_process.py). Reads the start
// message, runs the agent tree, and reports one result or fatal error. See protocol.ts.
import { EngineError, errorInfo } from "./errors.ts";
import { HttpModelClient } from "./models/http_client.ts";
import { OpenAiProvider } from "./models/openai_client.ts";
import { AnthropicProvider } from "./models/anthropic_client.ts";
import { ModelRouter } from "./models/router.ts";
import { LogWriter } from "./log_writer.ts";
import { hostLinesWritten, HostReader, sendToHost, setProtocolToken } from "./protocol.ts";
import { ensureSnapshot, replLaunchFrom, ReplPool } from "./repl/pool.ts";
import { Run } from "./run.ts";
import { HostFunctionBridge } from "./host_functions.ts";
import { Redactor } from "./redactor.ts";
import { contextFromFrame } from "./agent_context.ts";
import { mcpSecrets, openMcp } from "./mcp/service.ts";
import { capsOf, RunBudget } from "./budget.ts";
import { unpricedModels } from "./pricing.ts";
import { UsageTotals } from "./usage.ts";
import { HostModelClient } from "./models/host_model.ts";
import { checkedImages } from "./images.ts";
import { mergeParameters } from "./models/call_parameters.ts";
import { ResponseCache } from "./models/response_cache.ts";
import { RecordedReplies } from "./recorded_replies.ts";

// The largest query run_start holds in full (as sent: UTF-8 text, or JSON); a larger one is kept by
// its hash alone, and replaying its run needs it passed again.
const RECORDED_QUERY_BYTES = 1024 * 1024;

async function recordedQuery(
  frame: Uint8Array,
  isText: boolean,
): Promise<{ query?: unknown; query_sha256: string }> {
  const digest = await crypto.subtle.digest("SHA-256", frame as Uint8Array<ArrayBuffer>);
  const sha256 = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
  if (frame.length > RECORDED_QUERY_BYTES) return { query_sha256: sha256 };
  const text = new TextDecoder().decode(frame);
  return { query: isText ? text : JSON.parse(text), query_sha256: sha256 };
}

async function main(): Promise<void> {
  const host = new HostReader();
  const first = await host.nextMessage();
  if (first === null || first.type !== "start") throw new Error("the host must send a start message first");
  const start = first;
  setProtocolToken(start.protocol_token);
  const startedAt = performance.now();
  const redactor = new Redactor([
    start.api_key,
    start.anthropic_api_key,
    ...Object.values(start.env_variables),
    ...mcpSecrets(start.mcp_servers),
  ]);
  const config = start.config;
  const workerCount = config.workers > 0 ? config.workers : defaultWorkerCount();
  const launch = replLaunchFrom(start.repl_launch, config.allow_net);
  let run: Run | null = null;
  // The REPL processes start first: they restore their interpreters (0.4 s) while the query, up to
  // hundreds of MB, arrives and is checked and logged. A failure is reported once the log is open.
  const poolStarting = ensureSnapshot(launch, start.snapshot_file).then(() =>
    new ReplPool(
      {
        launch,
        snapshotFile: start.snapshot_file,
        size: workerCount,
        stepTimeoutSeconds: config.step_timeout_s,
        memoryLimitMb: config.repl_memory_mb,
        maxValueBytes: config.max_value_mb * 1024 * 1024,
        environment: start.env_variables,
      },
      (agentId, requestKind, payload) => run!.handleAgentRequest(agentId, requestKind, payload),
    )
  );
  poolStarting.catch(() => {}); // awaited below, inside the run's error handling
  const queryFrame = await host.readFrame(start.query_frame.bytes);
  // Its digest (100 ms for 100 MB) is computed off this thread while the context is checked.
  const queryRecord = recordedQuery(queryFrame, start.query_frame.is_text);
  const query = contextFromFrame(
    queryFrame,
    // enable_structured_io: false shows a dict or list query to the agent as its JSON text.
    start.query_frame.is_text || !start.config.enable_structured_io,
    redactor,
  );
  const log = new LogWriter(start.log_file, start.run_id, redactor, start.live_events);
  log.write({
    event: "run_start",
    config: { ...config },
    query_type: query.typeName,
    query_chars: query.chars,
    query_preview: query.preview,
    instruction: start.instruction,
    workers: workerCount,
    unpriced_models: unpricedModels(config, start.agents),
    ...await queryRecord,
    mode: start.mode,
    output_schema: start.output_schema,
    llm_kwargs: { run: start.llm_kwargs, root: start.root_llm_kwargs, sub: start.sub_llm_kwargs },
    ...start.lineage,
  });

  let pool: ReplPool | null = null;
  let runTimer: ReturnType<typeof setTimeout> | undefined;
  // Connects servers on first use; closed below on every exit path, which reaps stdio servers.
  const mcp = await openMcp(start.mcp_servers, config.mcp_timeout_s);
  try {
    pool = await poolStarting;
    const redact = (text: string) => redactor.redact(text);
    const transport = { timeoutSeconds: config.llm_timeout_s, maxRetries: config.llm_max_retries, redact };
    const promptCaching = config.prompt_caching;
    const providers = {
      openai: start.api_key === "" ? null : new HttpModelClient(
        new OpenAiProvider({ baseUrl: config.base_url, apiKey: start.api_key, promptCaching }),
        transport,
      ),
      anthropic: start.anthropic_api_key === "" ? null : new HttpModelClient(
        new AnthropicProvider({
          baseUrl: config.anthropic_base_url,
          apiKey: start.anthropic_api_key,
          promptCaching,
        }),
        transport,
      ),
    };
    const hostModels = new HostModelClient({ timeoutSeconds: config.llm_timeout_s, redact });
    const llm = new ModelRouter(providers, hostModels, new Set(start.host_models));
    const models = config.cache_dir === null ? llm : new ResponseCache(config.cache_dir, llm);
    const hostFunctions = new HostFunctionBridge(new Set(start.host_functions.map((fn) => fn.name)));
    run = new Run({
      config,
      llm,
      models,
      recording: start.recording === null ? null : new RecordedReplies(start.recording),
      pool,
      log,
      redactor,
      hostFunctions,
      environment: start.env_variables,
      mcp,
      namedAgents: start.agents,
      llmKwargs: {
        run: start.llm_kwargs,
        root: start.root_llm_kwargs,
        sub: start.sub_llm_kwargs,
        known: start.llm_kwargs_keys,
      },
    });
    listenForHostMessages(host, run, hostFunctions, hostModels);
    if (config.run_timeout_s !== null) {
      const timedOut = new EngineError("RunTimeoutError", `run_timeout_s=${config.run_timeout_s} elapsed`);
      runTimer = setTimeout(() => run!.stop(timedOut), config.run_timeout_s * 1000);
    }
    const results = await run.runRoot({
      instruction: start.instruction,
      context: query,
      // The ablation switches take the capability away from the root, and so from the whole tree.
      outputSchema: config.enable_structured_io ? start.output_schema : null,
      tools: config.enable_tools ? start.tools : [],
      hostFunctions: config.enable_tools ? start.host_functions : [],
      mcpServers: Object.keys(start.mcp_servers),
      images: await checkedImages(start.images, config.max_value_mb * 1024 * 1024),
      llmKwargs: mergeParameters(start.llm_kwargs, start.root_llm_kwargs),
      ...(start.session === null ? {} : { session: start.session }),
    }, start.mode);
    const usage = run.usageReport();
    log.write({
      event: "run_end",
      status: "ok",
      results,
      usage,
      duration_s: (performance.now() - startedAt) / 1000,
    });
    sendToHost({ type: "result", results, usage });
  } catch (error) {
    const usage = run?.usageReport() ?? new UsageTotals().snapshot(new RunBudget(capsOf(config)).report());
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
    const replProcessesEnded = pool?.shutdown();
    log.close(); // run_end stays the last line: agents still winding down write nothing more
    await mcp.close();
    await replProcessesEnded;
  }
}

// After the start message the host sends host-function results and may ask to cancel; closing stdin
// (the host died) cancels too.
async function listenForHostMessages(
  host: HostReader,
  run: Run,
  hostFunctions: HostFunctionBridge,
  hostModels: HostModelClient,
): Promise<void> {
  try {
    for (let message = await host.nextMessage(); message !== null; message = await host.nextMessage()) {
      if (message.type === "cancel") run.cancel();
      else if (message.type === "host_result") hostFunctions.settle(message);
      else if (message.type === "model_result") hostModels.settle(message);
    }
  } finally {
    run.cancel();
  }
}

try {
  await main();
} finally {
  await hostLinesWritten(); // the events and the result still queued for the host
}
Deno.exit(0);

// REPL processes when the config leaves it to the engine: half the cores, at least one. The engine,
// the host process and the model's client need the rest: on 2 cores one process ran a fan-out of
// 1,000 in 1.64 s and 381 MB, two processes in 2.10 s and 568 MB (benchmarks/README.md).
function defaultWorkerCount(): number {
  return Math.max(1, Math.floor(navigator.hardwareConcurrency / 2));
}
