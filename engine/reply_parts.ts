// Reads the reply message of a chat-completions choice as weaker and open models send it: content as
// a string or as a list of parts, reasoning in `reasoning_content` / `reasoning` fields, in thinking
// parts or in leading <think>...</think> blocks, and a finish_reason. The reasoning is kept apart so
// that code the model only thought about never runs and never goes back into the conversation.

export type ModelReply = {
  text: string; // what the model said, reasoning removed: code is looked for here
  reasoning: string | null; // null when the reply carried none
  finishReason: string | null; // "length" when the provider cut the reply at its token limit
};

// Part types that hold the model's reasoning rather than its answer (Anthropic-style "thinking",
// Mistral's "thinking", OpenRouter/OpenAI-style "reasoning").
const REASONING_PART_TYPES = new Set(["thinking", "reasoning", "reasoning_text"]);
const REASONING_FIELDS = ["reasoning_content", "reasoning"];
const LEADING_THINK_BLOCK = /^\s*<(think|thinking)>([\s\S]*?)(?:<\/\1>|$)/;

// null when the choice has no message at all (a malformed reply, not an empty one).
export function replyFromChoice(choice: unknown): ModelReply | null {
  if (!isRecord(choice) || !isRecord(choice.message)) return null;
  const message = choice.message;
  const answer: string[] = [];
  const reasoning: string[] = [];
  for (const field of REASONING_FIELDS) {
    const text = partText(message[field]);
    if (text) reasoning.push(text);
  }
  if (Array.isArray(message.content)) {
    for (const part of message.content) {
      const isReasoning = isRecord(part) && REASONING_PART_TYPES.has(String(part.type));
      (isReasoning ? reasoning : answer).push(partText(part));
    }
  } else {
    answer.push(partText(message.content));
  }
  // A refusal is what the model said when it says nothing else; it reads as prose with no code.
  if (answer.join("").trim() === "" && typeof message.refusal === "string") answer.push(message.refusal);
  const finishReason = typeof choice.finish_reason === "string" ? choice.finish_reason : null;
  return assembledReply(answer.join(""), reasoning, finishReason);
}

// A reply from its answer text and the reasoning found apart from it, for every wire format: think
// blocks leading the answer are reasoning too, and reasoning that is only whitespace is none.
export function assembledReply(answer: string, reasoning: string[], finishReason: string | null): ModelReply {
  const separated = separateThinking(answer);
  const pieces = [...reasoning, ...(separated.reasoning === null ? [] : [separated.reasoning])]
    .filter((piece) => piece.trim() !== "");
  return {
    text: separated.text,
    reasoning: pieces.length > 0 ? pieces.join("\n\n") : null,
    finishReason,
  };
}

// Splits the reasoning some models write into their content off the answer. Only think blocks at
// the start of the reply count (an unclosed one runs to the end: the reply was cut while thinking):
// agent code may well hold "<think>" in a string. A model whose chat template opens the block for it
// writes only the closing tag; that counts too when no code fence comes before it.
export function separateThinking(content: string): { text: string; reasoning: string | null } {
  const reasoning: string[] = [];
  let text = content;
  for (let match = LEADING_THINK_BLOCK.exec(text); match; match = LEADING_THINK_BLOCK.exec(text)) {
    reasoning.push(match[2].trim());
    text = text.slice(match[0].length);
  }
  if (reasoning.length === 0) {
    const close = /<\/(think|thinking)>/.exec(text);
    if (close !== null && !text.slice(0, close.index).includes("```")) {
      reasoning.push(text.slice(0, close.index).trim());
      text = text.slice(close.index + close[0].length);
    }
  }
  const kept = reasoning.filter((piece) => piece !== "");
  return {
    text: reasoning.length > 0 ? text.trimStart() : text,
    reasoning: kept.length > 0 ? kept.join("\n\n") : null,
  };
}

// The text of a content value: a string, a part ({type, text} or a thinking part), or a list of them.
function partText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(partText).join("");
  if (!isRecord(value)) return "";
  for (const key of ["text", "thinking", "reasoning", "content"]) {
    if (key in value) return partText(value[key]);
  }
  return "";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
