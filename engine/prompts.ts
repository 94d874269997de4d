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
};

export function systemPrompt(brief: AgentBrief): string {
  const canRecurse = brief.depth < brief.maxDepth;
  const recursion = canRecurse
    ? `- \`await llm_query(data, instruction=None, schema=None, tools=None)\` starts a helper agent whose
  \`context\` is \`data\` (any JSON-like value) and returns the value it passes to FINAL, as a Python
  object. Give it a clear \`instruction\`. \`schema\` (a JSON Schema dict, or int/str/float/bool/list/dict)
  makes it answer in that shape; \`tools\` lists functions of yours it may use. Helpers have their own
  REPL and can split their work further.
- \`await batch_llm_query(llm_query(a, "..."), llm_query(b, "..."), ...)\` runs helpers at the same time
  and returns their results in order (\`asyncio.gather\` works too). Prefer it for independent pieces.
- A failed helper raises \`LLMQueryError\` with the reason.`
    : `- You are at the deepest level allowed: \`llm_query\` is not available here. Solve the task in code.`;
  return `You are an agent working inside a Python REPL. Your input can be far too large to read whole, so it
is not in this conversation: it is stored in the REPL variable \`context\`.

How to work:
- Reply with exactly one fenced code block tagged \`repl\`, like:
\`\`\`repl
print(type(context), len(context))
\`\`\`
- The code runs in a persistent namespace (variables survive between steps). You see what it prints,
  truncated, and the repr of a final bare expression. Print only what you need to see.
- Top-level \`await\` works.
${recursion}
- When you have the answer, call \`FINAL(value)\` in a code block. \`value\` may be any JSON value:
  a string, number, bool, None, list or dict. FINAL ends your work at once.

You have at most ${brief.maxCalls} replies. Inspect the context with code, then compute the answer;
do not guess what you have not looked at.`;
}

export function firstUserMessage(brief: AgentBrief): string {
  const task = brief.instruction ?? "Answer the query held in `context`.";
  const sections = [`Task: ${task}`, `\`context\` holds: ${brief.contextDescription}`];
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
        `mcp_tool_schema("server.tool"), await mcp_call(server, tool, **arguments), mcp_list_resources(), ` +
        `await mcp_read_resource(uri). A failure raises MCPError. A helper gets servers only when you ` +
        `pass them: llm_query(..., mcp_servers=["name"]).`,
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

export function stepObservation(
  outcome: { stdout: string; stderr: string; error: string | null },
  truncateLength: number,
): string {
  const parts: string[] = [];
  if (outcome.stdout) parts.push(outcome.stdout);
  if (outcome.stderr) parts.push(`[stderr]\n${outcome.stderr}`);
  if (outcome.error) parts.push(`[error]\n${outcome.error}`);
  const text = parts.join("\n").trimEnd();
  if (!text) return "[the code ran and printed nothing]";
  if (text.length <= truncateLength) return text;
  return `${text.slice(0, truncateLength)}\n[... ${
    text.length - truncateLength
  } more characters truncated; print less]`;
}

// The first ```repl block of a reply (```python when there is no repl block, since models often use
// it), and how many more blocks of that tag were ignored.
export function extractCode(reply: string): { code: string; ignoredBlocks: number } | null {
  for (const tag of ["repl", "python"]) {
    const blocks = [...reply.matchAll(new RegExp("```" + tag + "[ \\t]*\\r?\\n([\\s\\S]*?)```", "g"))];
    if (blocks.length > 0) return { code: blocks[0][1], ignoredBlocks: blocks.length - 1 };
  }
  return null;
}

export function ignoredBlocksNote(ignoredBlocks: number): string {
  return ignoredBlocks === 0
    ? ""
    : `\n[only the first code block ran; ${ignoredBlocks} more ${
      ignoredBlocks === 1 ? "was" : "were"
    } ignored. ` +
      "Send one block per reply.]";
}
