// What the model is told. The system prompt explains the REPL; the first user message describes
// the context (never its full contents) and states the task.

import type { FunctionSignature, JsonSchema } from "./protocol.ts";

export type AgentBrief = {
  depth: number;
  maxDepth: number;
  maxCalls: number;
  instruction: string | null;
  contextDescription: string;
  outputSchema: JsonSchema | null;
  functions: (FunctionSignature & { source?: string })[];
  environmentNames: string[];
  mcpServers: string[]; // each "name (3 tools, 1 resource)", or "name (not started yet)"
  toolsEnabled: boolean; // enable_tools
  structuredIo: boolean; // enable_structured_io
  inheritTools: boolean; // inherit_tools
  inheritMcp: boolean; // inherit_mcp
  namedAgents: NamedAgentPurpose[]; // run(agents={...}): what a helper may be started as
  role: NamedAgentPurpose | null; // the named agent this one was started as
  imageCount: number; // images shown with the first message
};

export type NamedAgentPurpose = { name: string; purpose: string };

export function systemPrompt(brief: AgentBrief): string {
  const canRecurse = brief.depth < brief.maxDepth;
  const schemaArgument = brief.structuredIo ? ", schema=None" : "";
  const toolsArgument = brief.toolsEnabled ? ", tools=None" : "";
  const schemaText = brief.structuredIo
    ? ` \`schema\` (a JSON Schema dict, or int/str/float/bool/list/dict; also accepted as the second
  argument: \`llm_query(data, schema)\`) makes it answer in that shape.`
    : "";
  const toolsText = !brief.toolsEnabled
    ? ""
    : brief.inheritTools
    ? ` A helper gets all your functions unless you pass \`tools\` (a list; \`[]\` gives none).`
    : ` \`tools\` lists functions of yours it may use; it gets none otherwise.`;
  const recursion = canRecurse
    ? `- \`await llm_query(data, instruction=None${schemaArgument}${toolsArgument})\` starts a helper agent whose
  \`context\` is \`data\` (any JSON-like value) and returns the value it passes to FINAL, as a Python
  object. Give it a clear \`instruction\`.${schemaText}${toolsText} Helpers have their own
  REPL and can split their work further.
- \`await batch_llm_query(llm_query(a, "..."), llm_query(b, "..."), ...)\` runs helpers at the same time
  and returns their results in order (\`asyncio.gather\` works too). Prefer it for independent pieces.
- \`images=[...]\` (bytes or \`data:image/...;base64,\` URLs) shows images to the helper's model.${
      namedAgentsText(brief.namedAgents)
    }
- A failed helper raises \`LLMQueryError\` with the reason; a wrong argument raises \`TypeError\`.`
    : `- You are at the deepest level allowed: \`llm_query\` is not available here. Solve the task in code.`;
  return `You are an agent working inside a Python REPL. Your input can be far too large to read whole, so it
is not in this conversation: it is stored in the REPL variable \`context\`.

How to work:
- Reply with fenced code blocks tagged \`repl\`, like:
\`\`\`repl
print(type(context), len(context))
\`\`\`
  Several blocks in one reply run in order, as one step each, until one raises or calls FINAL; you
  then see all their output together. One block per reply is usually best: look before you go on.
- The code runs in a persistent namespace (variables survive between steps). You see what it prints,
  truncated (the start and the end are kept), and the repr of a final bare expression. Print only
  what you need to see.
- Top-level \`await\` works.
${recursion}
- When you have the answer, call \`FINAL(value)\` in a code block. \`value\` may be any JSON value:
  a string, number, bool, None, list or dict. FINAL ends your work at once. \`FINAL_VAR("name")\` does
  the same with the value of the variable \`name\`.

You have at most ${brief.maxCalls} replies. Inspect the context with code, then compute the answer;
do not guess what you have not looked at.`;
}

function namedAgentsText(agents: NamedAgentPurpose[]): string {
  if (agents.length === 0) return "";
  const listed = agents.map((agent) => `  - ${JSON.stringify(agent.name)}: ${agent.purpose}`);
  return `
- \`llm_query(data, instruction, agent="name")\` starts one of these named helpers, each with its own
  model and functions; pick the one whose purpose fits the piece of work:
${listed.join("\n")}`;
}

// The task of an agent given no instruction (the root, unless run() got one). Tests read it from here.
export const DEFAULT_TASK = "Answer the query held in `context`.";

export function firstUserMessage(brief: AgentBrief): string {
  const task = brief.instruction ?? DEFAULT_TASK;
  const sections = [`Task: ${task}`, `\`context\` holds: ${brief.contextDescription}`];
  if (brief.role !== null) {
    sections.unshift(`You are the ${JSON.stringify(brief.role.name)} agent: ${brief.role.purpose}`);
  }
  if (brief.imageCount > 0) {
    sections.push(
      `${brief.imageCount} image${brief.imageCount === 1 ? " comes" : "s come"} with this message; ` +
        "look at them yourself (your REPL does not have them).",
    );
  }
  if (brief.functions.length > 0) {
    const listed = brief.functions.map((fn) => {
      const awaited = fn.source === undefined ? "await " : "";
      const doc = fn.doc ? `\n    ${fn.doc.split("\n").join("\n    ")}` : "";
      return `- ${awaited}${fn.name}${fn.signature}${doc}`;
    });
    sections.push(`Functions you can call in the REPL:\n${listed.join("\n")}`);
  }
  if (brief.mcpServers.length > 0) {
    sections.push(
      `MCP servers available: ${brief.mcpServers.join(", ")}. In the REPL: mcp_list_tools(server=None), ` +
        `mcp_tool_schema("server.tool" or "tool"), await mcp_call(server, tool, **arguments), ` +
        `mcp_list_resources(server=None), mcp_list_resource_templates(server=None), ` +
        `await mcp_read_resource(uri, server=None). A failure raises MCPError. ` +
        (brief.inheritMcp
          ? `A helper gets all your servers unless you pass mcp_servers=[...] (or mcp=[...]; [] gives none).`
          : `A helper gets servers only when you pass them: llm_query(..., mcp_servers=["name"]) ` +
            `(or mcp=["name"]).`),
    );
  }
  if (brief.environmentNames.length > 0) {
    sections.push(`os.environ holds these variables for you: ${brief.environmentNames.join(", ")}.`);
  }
  if (brief.outputSchema !== null) {
    sections.push(
      `Your FINAL value must match this JSON Schema (it is checked; a mismatch is sent back to you):\n` +
        JSON.stringify(brief.outputSchema),
    );
  }
  sections.push("Write your first ```repl block.");
  return sections.join("\n\n");
}

export function finalRejectedObservation(violations: string[]): string {
  return `\n[FINAL was not accepted: the value does not match the required schema]\n${
    violations.join("\n")
  }\n` +
    "Fix the value and call FINAL again.";
}

export const NO_CODE_BLOCK_OBSERVATION =
  "Your reply had no ```repl code block, so nothing ran. Reply with one ```repl block; call FINAL(value) in it when done.";

// A reply that said nothing, or that the provider cut at its output token limit, ran nothing; it was
// still a model call, so the model is told what it cost.
export function emptyReplyObservation(thoughtOnly: boolean, callsLeft: number): string {
  const what = thoughtOnly ? "Your reply held only reasoning" : "Your reply was empty";
  return `${what}: it had no \`\`\`repl code block, so nothing ran. ${callsCounted(callsLeft)} ` +
    "Reply with one ```repl block; call FINAL(value) in it when done.";
}

export function cutReplyObservation(callsLeft: number): string {
  return "Your reply was cut off at the output token limit (finish_reason: length), so none of its code " +
    `ran. ${callsCounted(callsLeft)} Think less and reply with one short \`\`\`repl block.`;
}

function callsCounted(callsLeft: number): string {
  return `It counted as one of your replies: ${callsLeft} left.`;
}

export type StepOutput = { stdout: string; stderr: string; error: string | null };

// What the model sees after a reply's blocks ran: each block's output (labelled when there were
// several), a note on blocks that did not run, cut to truncateLength keeping the start and the end
// (a traceback is at the end).
export function stepObservation(
  outputs: StepOutput[],
  blocksInReply: number,
  truncateLength: number,
): string {
  const texts = outputs.map((output, index) => {
    const text = outputText(output);
    return blocksInReply === 1 ? text : `[block ${index + 1}]\n${text || "(printed nothing)"}`;
  });
  const skipped = blocksInReply - outputs.length;
  if (skipped > 0) {
    const why = outputs[outputs.length - 1].error !== null ? "raised an error" : "called FINAL";
    texts.push(
      `[block ${outputs.length} ${why}, so the ${skipped} block${
        skipped === 1 ? "" : "s"
      } after it did not run]`,
    );
  }
  const text = texts.join("\n").trimEnd();
  if (!text) return "[the code ran and printed nothing]";
  return headAndTail(text, truncateLength);
}

function outputText(output: StepOutput): string {
  const parts: string[] = [];
  if (output.stdout) parts.push(output.stdout);
  if (output.stderr) parts.push(`[stderr]\n${output.stderr}`);
  if (output.error) parts.push(`[error]\n${output.error}`);
  return parts.join("\n").trimEnd();
}

function headAndTail(text: string, keep: number): string {
  if (text.length <= keep) return text;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return `${text.slice(0, head)}\n[... ${
    text.length - keep
  } more characters truncated from the middle; print less]\n${tail > 0 ? text.slice(-tail) : ""}`;
}
