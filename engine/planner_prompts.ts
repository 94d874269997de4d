// What a planner is told (planner.ts): the decision it must reply with, as one JSON object, and the
// schema that reply is validated against. The executors and syntheses it leads to are ordinary REPL
// agents and get the prompts of prompts.ts.
import type { JsonSchema } from "./protocol.ts";
import type { NamedAgentPurpose } from "./prompts.ts";

export type PlanBrief = {
  task: string;
  contextDescription: string;
  depth: number;
  maxDepth: number;
  agentsLeft: number | null; // of max_steps; null when there is no such limit
  maxCalls: number;
  namedAgents: NamedAgentPurpose[];
  role: NamedAgentPurpose | null; // the named agent this task was given to
};

// The shape every planner reply must have. An `agent` is offered only when the run has named agents,
// and then only their names validate.
export function planSchema(agentNames: string[]): JsonSchema {
  const subtaskProperties: Record<string, unknown> = { task: { type: "string", minLength: 1 } };
  if (agentNames.length > 0) subtaskProperties.agent = { enum: agentNames };
  return {
    type: "object",
    properties: {
      action: { enum: ["execute", "recurse"] },
      reason: { type: "string" },
      subtasks: {
        type: "array",
        minItems: 1,
        items: {
          type: "object",
          properties: subtaskProperties,
          required: ["task"],
          additionalProperties: false,
        },
      },
    },
    required: ["action"],
    additionalProperties: false,
    if: { properties: { action: { const: "recurse" } } },
    then: { required: ["subtasks"] },
  };
}

export function planSystemPrompt(brief: PlanBrief): string {
  const mayRecurse = brief.depth < brief.maxDepth;
  const agentField = brief.namedAgents.length === 0 ? "" : `, "agent": "<name>"`;
  const agentsText = brief.namedAgents.length === 0 ? "" : `
A sub-task may name one of these agents in "agent" (leave it out for a general one); pick the one
whose purpose fits:
${brief.namedAgents.map((agent) => `- ${JSON.stringify(agent.name)}: ${agent.purpose}`).join("\n")}`;
  const limits = [
    mayRecurse
      ? `Sub-tasks may split again, down to depth ${brief.maxDepth} (this task is at depth ${brief.depth}).`
      : `This task is at the deepest level allowed (depth ${brief.depth} of max_depth ${brief.maxDepth}): you must execute it.`,
    brief.agentsLeft === null ? "" : `At most ${brief.agentsLeft} more agents may start in this run. ` +
      "Each sub-task costs at least two (its planner and its executor), and combining them costs one more.",
  ].filter((line) => line !== "").join("\n");
  return `You plan how a task gets done. Decide one of:
- execute: the task is small or indivisible enough for one agent to do. An agent with a Python REPL,
  the task's input (the REPL variable \`context\`) and its tools then does it.
- recurse: the task splits into independent sub-tasks. They run at the same time, each planned the
  same way, and each gets the same \`context\`; an agent then combines their answers into the answer
  of this task. Say in each sub-task everything it needs: it does not see this task or its siblings.

Reply with only a JSON object, no other text:
{"action": "execute", "reason": "<why>"}
or
{"action": "recurse", "reason": "<why>", "subtasks": [{"task": "<what to do>"${agentField}}, ...]}
${agentsText}
${limits}
You have at most ${brief.maxCalls} replies; a reply that does not match is returned to you with what is wrong.`;
}

export function planTaskMessage(brief: PlanBrief): string {
  const role = brief.role === null
    ? ""
    : `You plan as the agent ${JSON.stringify(brief.role.name)}: ${brief.role.purpose}\n\n`;
  return `${role}The task:\n${brief.task}\n\nIts input (\`context\`): ${brief.contextDescription}`;
}

export function planRejectedObservation(problems: string[], callsLeft: number): string {
  return `That reply is not a valid plan:\n${problems.map((problem) => `- ${problem}`).join("\n")}\n` +
    `Reply with only the corrected JSON object (${callsLeft} replies left).`;
}

// The instruction of the agent that combines the sub-tasks' answers; its context holds them.
export function synthesisInstruction(task: string): string {
  return `Combine the answers of the sub-tasks into the answer of this task:\n${task}\n\n` +
    '`context` is {"task": ..., "subtasks": [{"task": ..., "answer": ...}, ...]}, the sub-tasks in order. ' +
    "Check that they agree and cover the task, then FINAL the combined answer.";
}
