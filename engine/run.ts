// One run: the tree of agents, the limits that span it (depth, concurrency, tokens, money, time),
// the usage totals and cancellation. Every agent loop runs as an async task in this isolate.
import { type AgentSpec, runAgentLoop } from "./agent.ts";
import { Planner } from "./planner.ts";
import type { EngineConfig } from "./config.ts";
import { agentError, budgetError, cancelledError, EngineError, errorInfo } from "./errors.ts";
import { type ChatMessage, imageRecord, loggedMessage } from "./chat_message.ts";
import type { ModelRouter } from "./models/router.ts";
import { type KnownParameters, mergeParameters, parameterProblem } from "./models/call_parameters.ts";
import { childModel, type NamedAgent } from "./routing.ts";
import { checkedImages } from "./images.ts";
import type { LogWriter } from "./log_writer.ts";
import type { ModelReply } from "./reply_parts.ts";
import { contextFromValue } from "./agent_context.ts";
import type { ReplPool } from "./repl/pool.ts";
import { RequestGate } from "./request_gate.ts";
import type { HostFunctionBridge } from "./host_functions.ts";
import { checkSchema } from "./output_schema.ts";
import type { ErrorInfo } from "./protocol.ts";
import { type ChildRequest, parseChildRequest } from "./child_request.ts";
import type { Redactor } from "./redactor.ts";
import type { McpRequest } from "./mcp/manager.ts";
import type { McpService } from "./mcp/service.ts";
import { pricedUsage } from "./pricing.ts";
import { type Usage, UsageTotals } from "./usage.ts";
import type { RecordedReplies } from "./recorded_replies.ts";
import type { Completion, ModelClient } from "./models/client.ts";

// "repl": the root is a REPL agent; "decompose": the root is a planner (planner.ts).
export type RunMode = "repl" | "decompose";

type HostFunctionRequest = { name: string; args: unknown[]; kwargs: Record<string, unknown> };

// Everything a run is given besides its config, from the start message.
export type RunSetup = {
  config: EngineConfig;
  llm: ModelRouter;
  // What model calls go to: the router, or the response cache in front of it (config cache_dir).
  models: ModelClient;
  // The replies of an earlier run, answered first (replay, resume, fork); null in a fresh run.
  recording: RecordedReplies | null;
  pool: ReplPool;
  log: LogWriter;
  redactor: Redactor;
  hostFunctions: HostFunctionBridge;
  environment: Record<string, string>;
  mcp: McpService; // main.ts closes it when the run ends
  namedAgents: Record<string, NamedAgent>;
  llmKwargs: RunLlmKwargs;
};

// The provider options of the run and of each role, and the known keys they are checked against.
export type RunLlmKwargs = {
  run: Record<string, unknown>;
  root: Record<string, unknown>;
  sub: Record<string, unknown>;
  known: KnownParameters;
};

export class Run {
  private readonly usage = new UsageTotals();
  readonly finishedResults: Record<string, unknown> = {};
  private readonly stopController = new AbortController();
  private readonly requestGate: RequestGate;
  private readonly childCounts = new Map<string, number>();
  private readonly agents = new Map<string, AgentSpec>(); // the agents running now
  private readonly callsMade = new Map<string, number>(); // model calls of each running agent
  readonly config: EngineConfig;
  readonly llm: ModelRouter;
  readonly recording: RecordedReplies | null;
  private readonly models: ModelClient;
  readonly namedAgents: Record<string, NamedAgent>;
  readonly pool: ReplPool;
  readonly log: LogWriter;
  readonly redactor: Redactor;
  readonly environment: Record<string, string>;
  readonly mcp: McpService;
  private readonly llmKwargs: RunLlmKwargs;
  private readonly hostFunctions: HostFunctionBridge;

  constructor(setup: RunSetup) {
    ({
      config: this.config,
      llm: this.llm,
      models: this.models,
      recording: this.recording,
      pool: this.pool,
      log: this.log,
      redactor: this.redactor,
      hostFunctions: this.hostFunctions,
      environment: this.environment,
      mcp: this.mcp,
      namedAgents: this.namedAgents,
      llmKwargs: this.llmKwargs,
    } = setup);
    this.requestGate = new RequestGate(this.config, this.usage);
  }

  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  // Ends the whole run: every agent stops at its next model call or step.
  stop(reason: EngineError): void {
    if (!this.stopSignal.aborted) this.stopController.abort(reason);
  }

  throwIfStopped(): void {
    if (this.stopSignal.aborted) throw this.stopSignal.reason;
  }

  // Resolves with the root's FINAL value, or rejects with the error that ended the run. The root has
  // every tool, host function and MCP server of the run. In "decompose" mode the root is a planner.
  runRoot(
    root: Omit<AgentSpec, "id" | "parentId" | "depth" | "model" | "namedAgent">,
    mode: RunMode = "repl",
  ): Promise<unknown> {
    const spec: AgentSpec = {
      ...root,
      id: "root",
      parentId: null,
      depth: 0,
      model: this.config.primary_agent,
      namedAgent: null,
    };
    const stopped = new Promise<never>((_, reject) => {
      this.stopSignal.addEventListener("abort", () => reject(this.stopSignal.reason), { once: true });
    });
    const answer = mode === "decompose" ? new Planner(this).runRoot(spec) : this.runAgent(spec);
    return Promise.race([answer, stopped]);
  }

  // Runs `body` (the REPL agent loop unless told otherwise) as one agent of the tree, logged as such.
  async runAgent(
    agent: AgentSpec,
    body: (run: Run, agent: AgentSpec) => Promise<unknown> = runAgentLoop,
  ): Promise<unknown> {
    this.throwIfStopped();
    this.usage.addAgent();
    this.agents.set(agent.id, agent);
    const started = performance.now();
    this.log.write({
      event: "agent_start",
      agent_id: agent.id,
      parent_id: agent.parentId,
      depth: agent.depth,
      model: agent.model,
      ...(agent.namedAgent === null ? {} : { agent: agent.namedAgent }),
      ...(agent.role === undefined ? {} : { role: agent.role }),
      ...(agent.images.length === 0 ? {} : { images: agent.images.map(imageRecord) }),
      instruction: agent.instruction,
      context_type: agent.context.typeName,
      context_chars: agent.context.chars,
      context_preview: agent.context.preview,
    });
    let outcome: { status: "done"; result: unknown } | { status: "failed"; error: ErrorInfo };
    try {
      const result = await body(this, agent);
      this.finishedResults[agent.id] = result;
      outcome = { status: "done", result };
      return result;
    } catch (error) {
      outcome = { status: "failed", error: errorInfo(error) };
      throw error;
    } finally {
      // Requests come only from running agents, so an ended one is forgotten (its spec can be large).
      this.agents.delete(agent.id);
      this.log.write({
        event: "agent_end",
        agent_id: agent.id,
        ...outcome!,
        llm_calls: this.callsMade.get(agent.id) ?? 0,
        duration_s: (performance.now() - started) / 1000,
      });
      this.callsMade.delete(agent.id);
    }
  }

  // Fails with BudgetExceededError, without sending anything, when a run-wide cap has no room left.
  // `stepsDone` (the agent's code steps so far) is named if a replay cannot answer.
  async callModel(
    agent: AgentSpec,
    call: number,
    messages: ChatMessage[],
    loggedMessages: number,
    stepsDone: number,
  ): Promise<ModelReply> {
    this.throwIfStopped();
    const started = performance.now();
    const newMessages = messages.slice(loggedMessages).map(loggedMessage);
    const recorded = this.recording?.answer(
      agent.id,
      call,
      stepsDone,
      this.redactor.redact(JSON.stringify(newMessages)),
    ) ?? null;
    let completion: Completion;
    if (recorded !== null) {
      this.requestGate.chargeReplayed(agent.model, recorded.usage);
      completion = { reply: recorded.reply, usage: recorded.usage, attempts: 0 };
    } else {
      completion = await this.sendToModel(agent, call, messages);
      if (completion.cached) this.usage.addCacheHit();
    }
    const usage = pricedUsage(this.config.model_prices, agent.model, completion.usage);
    this.callsMade.set(agent.id, (this.callsMade.get(agent.id) ?? 0) + 1);
    this.log.write({
      event: "llm_call",
      agent_id: agent.id,
      call,
      model: agent.model,
      new_messages: newMessages,
      completion: completion.reply.text,
      reasoning: completion.reply.reasoning,
      finish_reason: completion.reply.finishReason,
      usage,
      duration_s: (performance.now() - started) / 1000,
      attempts: completion.attempts,
      ...(completion.cached ? { cached: true } : {}),
      ...(recorded !== null ? { replayed: true } : {}),
    });
    return completion.reply;
  }

  private sendToModel(agent: AgentSpec, call: number, messages: ChatMessage[]): Promise<Completion> {
    return this.models.complete(agent.model, messages, agent.llmKwargs, this.stopSignal, {
      enter: () => this.requestGate.enter(agent.model, messages, this.stopSignal),
      onRetry: (notice) =>
        this.log.write({
          event: "llm_retry",
          agent_id: agent.id,
          call,
          attempt: notice.attempt,
          reason: notice.reason,
          wait_s: notice.waitSeconds,
        }),
    });
  }

  // Every request agent code makes of the engine arrives here; the reply is JSON for runtime.py.
  async handleAgentRequest(agentId: string, requestKind: string, payloadJson: string): Promise<string> {
    try {
      const payload = JSON.parse(payloadJson);
      let value: unknown;
      switch (requestKind) {
        case "llm_query":
          value = await this.startChild(agentId, parseChildRequest(payload));
          break;
        case "host_function":
          value = await this.callHostFunction(agentId, payload as HostFunctionRequest);
          break;
        case "mcp": // MCP calls and resource reads are logged as host_call events named "mcp:server.tool"
          value = await this.mcp.handle(
            this.agents.get(agentId)!.mcpServers,
            payload as McpRequest,
            this.stopSignal,
            (name, started, error) => this.logHostCall(agentId, name, started, error),
          );
          break;
        default:
          throw agentError(`unknown request kind ${JSON.stringify(requestKind)}`);
      }
      return JSON.stringify({ ok: true, value });
    } catch (error) {
      return JSON.stringify({ ok: false, error: errorInfo(error) });
    }
  }

  private async startChild(parentId: string, request: ChildRequest): Promise<unknown> {
    const parent = this.agents.get(parentId)!;
    if (parent.depth + 1 > this.config.max_depth) {
      throw budgetError(
        `max_depth=${this.config.max_depth} reached: agent ${parentId} cannot start helpers; do the work in its own code`,
      );
    }
    // enable_structured_io / enable_tools off: what the parent asked for is ignored, as in 0.5.0.
    const schema = this.config.enable_structured_io ? request.schema : null;
    if (schema !== null) await checkSchema(schema, this.config.schema_timeout_s);
    const namedAgent = request.agent === null ? null : this.namedAgent(request.agent);
    const images = await checkedImages(request.images, this.config.max_value_mb * 1024 * 1024);
    const parentFunctions = [...parent.tools, ...parent.hostFunctions].map((fn) => fn.name);
    // An omitted tools= / mcp_servers= inherits everything the parent has when the config says so;
    // an explicit list, [] included, is exactly what the child gets.
    const requestedTools = this.config.enable_tools ? request.tools : [];
    const toolNames = new Set(requestedTools ?? (this.config.inherit_tools ? parentFunctions : []));
    const unknownTools = [...toolNames].filter((name) => !parentFunctions.includes(name));
    if (unknownTools.length > 0) {
      throw agentError(`tools not available to ${parentId}: ${unknownTools.join(", ")}`);
    }
    const servers = request.mcp_servers ?? (this.config.inherit_mcp ? parent.mcpServers : []);
    const unknownServers = servers.filter((name) => !parent.mcpServers.includes(name));
    if (unknownServers.length > 0) {
      throw agentError(`MCP servers not available to ${parentId}: ${unknownServers.join(", ")}`);
    }
    const depth = parent.depth + 1;
    const model = childModel(this.config, depth, request.model, namedAgent);
    const llmKwargs = mergeParameters(this.llmKwargs.run, this.llmKwargs.sub, request.llm_kwargs ?? {});
    const server = this.llm.serverOf(model);
    const problem = parameterProblem(
      llmKwargs,
      server.kind === "host" ? null : server.provider,
      this.llmKwargs.known,
    );
    if (problem !== null) throw agentError(`llm_query for model ${JSON.stringify(model)}: ${problem}`);
    const index = this.childCounts.get(parentId) ?? 0;
    this.childCounts.set(parentId, index + 1);
    // A named agent's own tools come on top of what the parent passed on; its own win a name clash.
    const ownTools = namedAgent?.tools ?? [];
    const ownToolNames = new Set(ownTools.map((tool) => tool.name));
    const passedTools = parent.tools.filter((tool) =>
      toolNames.has(tool.name) && !ownToolNames.has(tool.name)
    );
    return this.runAgent({
      id: `${parentId}.${index}`,
      parentId,
      depth,
      model,
      namedAgent: request.agent,
      images,
      instruction: request.instruction,
      context: contextFromValue(
        this.config.enable_structured_io ? request.data : asText(request.data),
        this.redactor,
      ),
      outputSchema: schema,
      tools: [...passedTools, ...(this.config.enable_tools ? ownTools : [])],
      hostFunctions: parent.hostFunctions.filter((fn) =>
        toolNames.has(fn.name) && !ownToolNames.has(fn.name)
      ),
      mcpServers: [...servers],
      llmKwargs,
    });
  }

  // The REPL refuses an unknown name with a TypeError before sending; a REPL process is untrusted.
  namedAgent(name: string): NamedAgent {
    if (!Object.hasOwn(this.namedAgents, name)) {
      const known = Object.keys(this.namedAgents);
      throw agentError(
        `no agent named ${JSON.stringify(name)}; the run's agents: ${known.join(", ") || "none"}`,
      );
    }
    return this.namedAgents[name];
  }

  private async callHostFunction(agentId: string, request: HostFunctionRequest): Promise<unknown> {
    const agent = this.agents.get(agentId)!;
    if (!agent.hostFunctions.some((fn) => fn.name === request.name)) {
      throw agentError(`host function ${request.name} is not available to ${agentId}`);
    }
    const started = performance.now();
    try {
      const value = await this.hostFunctions.call(request.name, request.args, request.kwargs);
      this.logHostCall(agentId, request.name, started, null);
      return value;
    } catch (error) {
      this.logHostCall(agentId, request.name, started, error);
      throw error;
    }
  }

  private logHostCall(agentId: string, name: string, started: number, error: unknown): void {
    this.log.write({
      event: "host_call",
      agent_id: agentId,
      name,
      ok: error === null,
      ...(error === null ? {} : { error: errorInfo(error) }),
      duration_s: (performance.now() - started) / 1000,
    });
  }

  // The run's totals, with each run-wide cap beside what was used of it.
  usageReport(): Usage {
    return this.usage.snapshot(this.requestGate.budget.report());
  }

  cancel(): void {
    this.stop(cancelledError("the run was cancelled"));
  }
}

// enable_structured_io: false shows a dict or list to the agent as its JSON text.
function asText(value: unknown): unknown {
  return typeof value === "string" ? value : JSON.stringify(value);
}
