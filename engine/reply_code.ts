// The code a reply asks to run. Fenced blocks, by the first kind the reply has: ```repl blocks (what
// the prompt asks for), else ```python / ```py blocks, else unlabelled ``` blocks; each kind's blocks
// run in the order written. A reply with none of these may still end the agent with a line that is
// exactly FINAL(...) or FINAL_VAR(...) (weaker models write it outside any block). Only such a whole
// line counts: FINAL(x) named in a sentence ("I will call FINAL(x) once done"), in inline code, in
// another language's block or in the model's reasoning (already removed, reply_parts.ts) never runs.

const FENCED_BLOCK = /```([A-Za-z0-9_+-]*)[ \t]*\r?\n([\s\S]*?)```/g;
const FENCE_KINDS: string[][] = [["repl"], ["python", "py"], [""]];
const FINAL_LINE = /^(FINAL|FINAL_VAR)\((.*)\)$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// The blocks to run, in order; null when the reply has no code to run.
export function extractCode(reply: string): string[] | null {
  const fenced = [...reply.matchAll(FENCED_BLOCK)].map((match) => ({
    tag: match[1].toLowerCase(),
    code: match[2],
  }));
  for (const tags of FENCE_KINDS) {
    const blocks = fenced.filter((block) => tags.includes(block.tag));
    if (blocks.length > 0) return blocks.map((block) => block.code);
  }
  // A fence left open (no closing ```) holds everything after it.
  const outsideBlocks = reply.replaceAll(FENCED_BLOCK, "").split("```")[0];
  const finalLine = finalLineOutsideBlocks(outsideBlocks);
  return finalLine === null ? null : [finalLine];
}

// The first line that is a whole FINAL(...) / FINAL_VAR(...) call, as code to run. FINAL_VAR(answer)
// names a variable; the REPL's FINAL_VAR takes the name as a string, so a bare name is quoted.
function finalLineOutsideBlocks(text: string): string | null {
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const call = FINAL_LINE.exec(line);
    if (call === null || !isOneCall(line)) continue;
    const argument = call[2].trim();
    if (call[1] === "FINAL_VAR" && IDENTIFIER.test(argument)) return `FINAL_VAR(${JSON.stringify(argument)})`;
    return line;
  }
  return null;
}

// True when the parenthesis opened after the name closes at the end of the line, so
// "FINAL(a) or FINAL(b)" is not taken for one call. Parentheses inside string literals do not count.
function isOneCall(line: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let index = line.indexOf("("); index < line.length; index++) {
    const char = line[index];
    if (quote !== null) {
      if (char === "\\") index++;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === "(") {
      depth++;
    } else if (char === ")" && --depth === 0) {
      return index === line.length - 1;
    }
  }
  return false;
}
