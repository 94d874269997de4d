// One agent's loop: ask the model, run the reply's code blocks in the agent's REPL (in order, until
// one raises or calls FINAL), show their output, repeat until FINAL or the call budget is spent. An
// empty or cut reply runs nothing and gets a corrective observation; it still counts as a call.
import { type ChatMessage, type ImagePart, withImages } from "./chat_message.ts";
import type { CallParameters } from "./models/client.ts";
import {
  type AgentBrief,
  cutReplyObservation,
  emptyReplyObservation,
  finalRejectedObservation,
  firstUserMessage,
  NO_CODE_BLOCK_OBSERVATION,
  stepObservation,
  type StepOutput,
  systemPrompt,
} from "./prompts.ts";
import type { AgentContext } from "./agent_context.ts";
import { extractCode } from "./reply_code.ts";
import { budgetError } from "./errors.ts";
import { schemaError, schemaViolations } from "./output_schema.ts";
import type { FunctionSignature, JsonSchema, ToolSpec } from "./protocol.ts";
import type { Run } from "./run.ts";
import { sendSessionState, sessionNotice, sessionSetup, type SessionStart } from "./session_state.ts";

const EMPTY_REPLY_PLACEHOLDER = "(empty reply)";

export type AgentSpec = {
  id: string;
  parentId: string | null;
  depth: number;
  model: string;
  instruction: string | null;
  context: AgentContext;
  outputSchema: JsonSchema | null;
  tools: ToolSpec[];
  hostFunctions: FunctionSignature[];
  mcpServers: string[];
  namedAgent: string | null; // its name in run(agents={...}), when it was started under one
  images: ImagePart[]; // shown to its model with its first message
  llmKwargs: CallParameters; // run, role and llm_query layers merged
  // Planner mode only (planner.ts): what the agent does in the plan. Absent in the default mode.
  role?: AgentRole;
  session?: SessionStart; // the root of a session's query: its REPL carries on from the last one
};

export type AgentRole = "plan" | "subtask" | "execute" | "synthesis";

// What the runtime installs into the agent's namespace, by setup key (see runtime.py).
function namespaceSetup(
  agent: AgentSpec,
  agentNames: string[],
  maxValueBytes: number,
): Record<string, unknown> {
  const setup: Record<string, unknown> = {};
  if (agentNames.length > 0) setup.agent_names = agentNames;
  if (agent.tools.length > 0) setup.tools = agent.tools;
  if (agent.hostFunctions.length > 0) setup.host_functions = agent.hostFunctions;
  if (agent.mcpServers.length > 0) setup.mcp_servers = agent.mcpServers;
  // Last: the restored names must not be taken over by what the installers above put in.
  if (agent.session !== undefined) setup.session = sessionSetup(agent.session, maxValueBytes);
  return setup;
}

export async function runAgentLoop(run: Run, agent: AgentSpec): Promise<unknown> {
  const config = run.config;
  const brief: AgentBrief = {
    depth: agent.depth,
    maxDepth: config.max_depth,
    maxCalls: config.max_calls_per_subagent,
    instruction: agent.instruction,
    contextDescription: agent.context.description,
    outputSchema: agent.outputSchema,
    functions: [...agent.tools, ...agent.hostFunctions],
    environmentNames: Object.keys(run.environment),
    mcpServers: run.mcp.describe(agent.mcpServers),
    toolsEnabled: config.enable_tools,
    structuredIo: config.enable_structured_io,
    inheritTools: config.inherit_tools,
    inheritMcp: config.inherit_mcp,
    namedAgents: Object.entries(run.namedAgents).map(([name, named]) => ({
      name,
      purpose: named.instruction,
    })),
    role: agent.namedAgent === null ? null : {
      name: agent.namedAgent,
      purpose: run.namedAgents[agent.namedAgent].instruction,
    },
    imageCount: agent.images.length,
  };
  const messages: ChatMessage[] = [
    { role: "system", content: systemPrompt(brief) },
    withImages(
      "user",
      agent.session === undefined
        ? firstUserMessage(brief)
        : `${firstUserMessage(brief)}\n\n${sessionNotice(agent.session)}`,
      agent.images,
    ),
  ];
  const replReady = run.pool.createAgent(
    agent.id,
    agent.parentId,
    agent.context.bytes,
    agent.context.isText,
    namespaceSetup(agent, Object.keys(run.namedAgents), config.max_value_mb * 1024 * 1024),
  );
  replReady.catch(() => {}); // awaited before the first step; a failure surfaces there
  // The pool now holds the only copy it needs (and drops it once the REPL has moved on); a context
  // can be hundreds of MB, so the agent's own reference must not keep it for the agent's whole life.
  agent.context.bytes = new Uint8Array(0);
  let loggedMessages = 0;
  let steps = 0;
  let lastRejected: { value: unknown; violations: string[] } | null = null;
  try {
    for (let call = 1; call <= config.max_calls_per_subagent; call++) {
      const forkInstruction = run.recording?.forkInstruction(agent.id, call - 1) ?? null;
      if (forkInstruction !== null) messages.push({ role: "user", content: forkInstruction });
      const reply = await run.callModel(agent, call, messages, loggedMessages, steps);
      // Reasoning stays out of the conversation. An empty reply goes back as a placeholder: some
      // providers refuse an assistant message without content.
      messages.push({
        role: "assistant",
        content: reply.text.trim() === "" ? EMPTY_REPLY_PLACEHOLDER : reply.text,
      });
      loggedMessages = messages.length; // the reply itself is logged as the call's completion
      const callsLeft = config.max_calls_per_subagent - call;
      if (reply.finishReason === "length") {
        messages.push({ role: "user", content: cutReplyObservation(callsLeft) });
        continue;
      }
      if (reply.text.trim() === "") {
        messages.push({ role: "user", content: emptyReplyObservation(reply.reasoning !== null, callsLeft) });
        continue;
      }
      const blocks = extractCode(reply.text);
      if (blocks === null) {
        messages.push({ role: "user", content: NO_CODE_BLOCK_OBSERVATION });
        continue;
      }
      await replReady;
      const outputs: StepOutput[] = [];
      let schemaNote = "";
      // Each block is a step of its own in the log (its own number, code and output).
      for (const code of blocks) {
        steps += 1;
        const started = performance.now();
        const outcome = await run.pool.runStep(agent.id, steps, code);
        run.throwIfStopped();
        run.log.write({
          event: "code_step",
          agent_id: agent.id,
          step: steps,
          code,
          stdout: outcome.stdout,
          stderr: outcome.stderr,
          error: outcome.error,
          final: outcome.final_json !== null,
          duration_s: (performance.now() - started) / 1000,
        });
        if (agent.session !== undefined && outcome.session_state !== undefined) {
          sendSessionState(steps, outcome.session_state);
        }
        // Redacted before it is cut to truncate_len, so a cut cannot leave a piece of a secret.
        outputs.push({
          stdout: run.redactor.redact(outcome.stdout),
          stderr: run.redactor.redact(outcome.stderr),
          error: outcome.error === null ? null : run.redactor.redact(outcome.error),
        });
        if (outcome.final_json !== null) {
          const value = JSON.parse(outcome.final_json);
          if (agent.outputSchema === null) return value;
          const violations = await schemaViolations(
            agent.outputSchema,
            outcome.final_json,
            config.schema_timeout_s,
          );
          if (violations.length === 0) return value;
          lastRejected = { value, violations };
          schemaNote = finalRejectedObservation(violations);
          break;
        }
        if (outcome.error !== null) break;
      }
      const observation = stepObservation(outputs, blocks.length, config.truncate_len) + schemaNote;
      messages.push({ role: "user", content: observation });
    }
  } finally {
    run.pool.dropAgent(agent.id);
  }
  if (lastRejected !== null) {
    throw schemaError(
      `agent ${agent.id} never produced a FINAL value matching its output schema within ` +
        `max_calls_per_subagent=${config.max_calls_per_subagent}. Last value: ` +
        `${JSON.stringify(lastRejected.value).slice(0, 500)}. Errors: ${lastRejected.violations.join("; ")}`,
    );
  }
  throw budgetError(
    `agent ${agent.id} used all max_calls_per_subagent=${config.max_calls_per_subagent} model calls without calling FINAL`,
  );
}
