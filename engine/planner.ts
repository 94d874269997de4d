// Planner mode (run(mode="decompose")). Every task is first given to a planner: an agent whose model
// replies with a decision, one JSON object validated against planSchema (no REPL). "execute" hands the
// task to an executor, today's REPL agent with the task as its instruction (so tools, MCP servers,
// `context` and FINAL work as in the default mode); "recurse" runs the listed sub-tasks concurrently,
// each planned the same way, then a synthesis agent (a REPL agent too) combines their answers.
//
// In the tree a planner is the agent of its task: its children are the executor, or the sub-tasks and
// the synthesis, and its result is theirs. Sub-tasks get their parent's context whole. max_depth bounds
// the nesting of tasks: a planner at max_depth must execute, and one that keeps asking to recurse there
// ends with RecursionDepthError. max_steps bounds the agents of the tree (planners, executors,
// syntheses); the agent that would pass it is not started and the run ends with MaxStepsError.
import type { AgentSpec } from "./agent.ts";
import type { ChatMessage } from "./chat_message.ts";
import { contextFromValue } from "./agent_context.ts";
import { maxStepsError, recursionDepthError } from "./errors.ts";
import { schemaError, schemaViolations } from "./output_schema.ts";
import {
  type PlanBrief,
  planRejectedObservation,
  planSchema,
  planSystemPrompt,
  planTaskMessage,
  synthesisInstruction,
} from "./planner_prompts.ts";
import { childModel } from "./routing.ts";
import type { Run } from "./run.ts";
import type { JsonSchema } from "./protocol.ts";

export type Subtask = { task: string; agent: string | null };
export type Plan = { action: "execute"; reason: string | null } | {
  action: "recurse";
  reason: string | null;
  subtasks: Subtask[];
};

const EMPTY_REPLY_PLACEHOLDER = "(empty reply)";
// The host makes a text query the root's task; a dict or list query with no instruction gets this.
const ROOT_TASK_FALLBACK = "Do what the query in `context` asks.";

export class Planner {
  private agentsStarted = 0;
  private readonly schema: JsonSchema;

  constructor(private readonly run: Run) {
    this.schema = planSchema(Object.keys(run.namedAgents));
  }

  // The root task's answer. `root` is the root agent's spec; its instruction is the task.
  runRoot(root: AgentSpec): Promise<unknown> {
    return this.runTask({ ...root, role: "plan", instruction: root.instruction ?? ROOT_TASK_FALLBACK });
  }

  private runTask(task: AgentSpec): Promise<unknown> {
    this.admit(task.id);
    // Each agent's REPL takes its context's bytes away (agent.ts), so every executor, sub-task and
    // synthesis gets a copy of the context record; the bytes themselves are shared.
    const context = { ...task.context };
    return this.run.runAgent(task, () => this.planAndRun(task, context));
  }

  private async planAndRun(task: AgentSpec, context: AgentSpec["context"]): Promise<unknown> {
    const plan = await this.decide(task);
    this.run.log.write({
      event: "plan",
      agent_id: task.id,
      action: plan.action,
      reason: plan.reason,
      subtasks: plan.action === "recurse" ? plan.subtasks : [],
    });
    if (plan.action === "execute") {
      return this.startWorker(this.worker(task, 0, "execute", task.instruction, { ...context }));
    }
    // Sub-tasks of a named agent stay with that agent unless they name another one.
    const answers = await Promise.all(plan.subtasks.map((subtask, index) => {
      const namedAgent = subtask.agent ?? task.namedAgent;
      const named = namedAgent === null ? null : this.run.namedAgent(namedAgent);
      return this.runTask({
        ...this.worker(task, index, "subtask", subtask.task, { ...context }),
        model: childModel(this.run.config, task.depth + 1, null, named),
        namedAgent,
        outputSchema: null,
        tools: [
          ...task.tools.filter((tool) => !named?.tools.some((own) => own.name === tool.name)),
          ...(this.run.config.enable_tools ? named?.tools ?? [] : []),
        ],
      });
    }));
    const combined = {
      task: task.instruction,
      subtasks: plan.subtasks.map((subtask, index) => ({ task: subtask.task, answer: answers[index] })),
    };
    return this.startWorker(this.worker(
      task,
      plan.subtasks.length,
      "synthesis",
      synthesisInstruction(task.instruction ?? ""),
      contextFromValue(combined, this.run.redactor),
    ));
  }

  // A child of `task` doing part of its work, with its model, functions and servers.
  private worker(
    task: AgentSpec,
    index: number,
    role: NonNullable<AgentSpec["role"]>,
    instruction: string | null,
    context: AgentSpec["context"],
  ): AgentSpec {
    return {
      ...task,
      id: `${task.id}.${index}`,
      parentId: task.id,
      depth: task.depth + 1,
      role,
      instruction,
      context,
      images: role === "execute" ? task.images : [],
    };
  }

  private startWorker(worker: AgentSpec): Promise<unknown> {
    this.admit(worker.id);
    return this.run.runAgent(worker);
  }

  private admit(agentId: string): void {
    const limit = this.run.config.max_steps;
    if (limit !== null && this.agentsStarted >= limit) {
      throw maxStepsError(
        `max_steps=${limit} reached: agent ${agentId} was not started. Raise max_steps, or ask for ` +
          "fewer sub-tasks (a lower max_depth keeps the plan shallower).",
      );
    }
    this.agentsStarted += 1;
  }

  // Asks the task's model for a plan until one validates, within max_calls_per_subagent.
  private async decide(task: AgentSpec): Promise<Plan> {
    const config = this.run.config;
    const limit = config.max_steps;
    const brief: PlanBrief = {
      task: task.instruction ?? "",
      contextDescription: task.context.description,
      depth: task.depth,
      maxDepth: config.max_depth,
      agentsLeft: limit === null ? null : limit - this.agentsStarted,
      maxCalls: config.max_calls_per_subagent,
      namedAgents: Object.entries(this.run.namedAgents).map(([name, named]) => ({
        name,
        purpose: named.instruction,
      })),
      role: task.namedAgent === null
        ? null
        : { name: task.namedAgent, purpose: this.run.namedAgents[task.namedAgent].instruction },
    };
    const messages: ChatMessage[] = [
      { role: "system", content: planSystemPrompt(brief) },
      { role: "user", content: planTaskMessage(brief) },
    ];
    let loggedMessages = 0;
    let last: { reply: string; problems: string[]; tooDeep: boolean } = {
      reply: "",
      problems: [],
      tooDeep: false,
    };
    for (let call = 1; call <= config.max_calls_per_subagent; call++) {
      const reply = await this.run.callModel(task, call, messages, loggedMessages, 0); // a planner runs no code
      messages.push({
        role: "assistant",
        content: reply.text.trim() === "" ? EMPTY_REPLY_PLACEHOLDER : reply.text,
      });
      loggedMessages = messages.length;
      const checked = reply.finishReason === "length"
        ? { plan: null, problems: ["(the reply): it was cut off; reply with a shorter plan"] }
        : await this.checkedPlan(reply.text);
      const tooDeep = checked.plan?.action === "recurse" && task.depth >= config.max_depth;
      if (checked.plan !== null && !tooDeep) return checked.plan;
      const problems = tooDeep
        ? [`action: this task is at max_depth=${config.max_depth} and cannot be split; use "execute"`]
        : checked.problems;
      last = { reply: reply.text, problems, tooDeep };
      messages.push({
        role: "user",
        content: planRejectedObservation(problems, config.max_calls_per_subagent - call),
      });
    }
    const summary = `Last reply: ${JSON.stringify(last.reply.slice(0, 500))}. Errors: ${
      last.problems.join("; ")
    }`;
    if (last.tooDeep) {
      throw recursionDepthError(
        `planner ${task.id} kept splitting a task at max_depth=${config.max_depth} for all ` +
          `max_calls_per_subagent=${config.max_calls_per_subagent} replies. Raise max_depth. ${summary}`,
      );
    }
    throw schemaError(
      `planner ${task.id} never replied with a plan matching the plan schema within ` +
        `max_calls_per_subagent=${config.max_calls_per_subagent} replies. ${summary}`,
    );
  }

  private async checkedPlan(text: string): Promise<{ plan: Plan | null; problems: string[] }> {
    const json = jsonObjectText(text);
    if (json === null) return { plan: null, problems: ["(the reply): it holds no JSON object"] };
    try {
      JSON.parse(json);
    } catch (error) {
      return { plan: null, problems: [`(the reply): not valid JSON: ${(error as Error).message}`] };
    }
    const problems = await schemaViolations(this.schema, json, this.run.config.schema_timeout_s);
    if (problems.length > 0) return { plan: null, problems };
    const value = JSON.parse(json) as { action: Plan["action"]; reason?: string; subtasks?: Subtask[] };
    const reason = value.reason ?? null;
    if (value.action === "execute") return { plan: { action: "execute", reason }, problems: [] };
    const subtasks = value.subtasks!.map((subtask) => ({ task: subtask.task, agent: subtask.agent ?? null }));
    return { plan: { action: "recurse", reason, subtasks }, problems: [] };
  }
}

// The reply's JSON object: the whole reply, a fenced block, or the text from its first "{" to its last "}".
function jsonObjectText(text: string): string | null {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/.exec(text);
  const body = (fenced === null ? text : fenced[1]).trim();
  const start = body.indexOf("{");
  const end = body.lastIndexOf("}");
  return start === -1 || end < start ? null : body.slice(start, end + 1);
}
