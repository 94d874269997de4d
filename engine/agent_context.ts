// An agent's context as the engine holds it: the bytes its REPL decodes (UTF-8 text, or JSON for
// any other value), and a compact description for its first prompt and the log: type, size, for
// dicts and lists the shape, and a short preview. The full value is never put in a prompt.
const PREVIEW_CHARS = 300;
const MAX_KEYS_SHOWN = 20;
const MAX_UTF8_BYTES_PER_CHAR = 4;

// What a preview must not show: the run's secrets (redactor.ts), cut or whole.
export type PreviewRedactor = { redactedStart(text: string, length: number): string };

export type AgentContext = {
  bytes: Uint8Array;
  isText: boolean;
  typeName: string;
  chars: number; // characters of the text (as Python's len counts them), or of the JSON
  preview: string;
  description: string;
};

const encoder = new TextEncoder();

// A context given as a value: a child's data from llm_query.
export function contextFromValue(value: unknown, redactor: PreviewRedactor): AgentContext {
  if (typeof value === "string") return textContext(encoder.encode(value), redactor);
  return jsonContext(encoder.encode(JSON.stringify(value)), value, JSON.stringify(value), redactor);
}

// A context given as bytes: the run's query, which reaches the engine as a raw frame.
export function contextFromFrame(
  bytes: Uint8Array,
  isText: boolean,
  redactor: PreviewRedactor,
): AgentContext {
  if (isText) return textContext(bytes, redactor);
  const json = new TextDecoder().decode(bytes);
  return jsonContext(bytes, JSON.parse(json), json, redactor);
}

// A preview is cut by code points, so twice its length in UTF-16 units is decoded and redacted first.
const HEAD_UNITS = PREVIEW_CHARS * 2;

function textContext(bytes: Uint8Array, redactor: PreviewRedactor): AgentContext {
  // Only the start is decoded: a text context can be hundreds of MB.
  const head = new TextDecoder().decode(bytes.subarray(0, HEAD_UNITS * MAX_UTF8_BYTES_PER_CHAR), {
    stream: true,
  });
  const start = [...redactor.redactedStart(head, HEAD_UNITS)].slice(0, PREVIEW_CHARS).join("");
  const chars = codePoints(bytes);
  return {
    bytes,
    isText: true,
    typeName: "str",
    chars,
    preview: start,
    description: `a str of ${chars} characters. Start: ${JSON.stringify(start)}`,
  };
}

function jsonContext(
  bytes: Uint8Array,
  value: unknown,
  json: string,
  redactor: PreviewRedactor,
): AgentContext {
  const start = redactor.redactedStart(json, PREVIEW_CHARS);
  const preview = json.length > PREVIEW_CHARS ? `${start}...` : start;
  return {
    bytes,
    isText: false,
    typeName: typeName(value),
    chars: json.length,
    preview,
    description: `${shape(value, 0)}\nPreview: ${preview}`,
  };
}

// Python's len() of UTF-8 text: its bytes less the continuation bytes (10xxxxxx). Counted four bytes
// at a time, since a context can be hundreds of MB (100 MB: 109 ms byte by byte, 25 ms this way).
function codePoints(bytes: Uint8Array): number {
  const isContinuation = (index: number) => (bytes[index] & 0xc0) === 0x80 ? 1 : 0;
  const head = Math.min(bytes.length, (4 - bytes.byteOffset % 4) % 4); // up to a 4-byte boundary
  const wordCount = Math.floor((bytes.length - head) / 4);
  let continuation = 0;
  for (let index = 0; index < head; index++) continuation += isContinuation(index);
  const words = wordCount > 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset + head, wordCount) : [];
  for (let index = 0; index < wordCount; index++) {
    const word = words[index];
    // Bit 7 of each byte that is a continuation (its top bit set, the next one clear), moved to bit 0
    // and summed into the top byte by the multiplication.
    const marks = (word & ~(word << 1) & 0x80808080) >>> 7;
    continuation += Math.imul(marks, 0x01010101) >>> 24;
  }
  for (let index = head + wordCount * 4; index < bytes.length; index++) continuation += isContinuation(index);
  return bytes.length - continuation;
}

export function typeName(value: unknown): string {
  if (value === null) return "NoneType";
  if (Array.isArray(value)) return "list";
  switch (typeof value) {
    case "string":
      return "str";
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(value) ? "int" : "float";
    case "object":
      return "dict";
    default:
      return typeof value;
  }
}

function shape(value: unknown, depth: number): string {
  const indent = "  ".repeat(depth);
  if (Array.isArray(value)) {
    const first = value.length > 0 && depth < 2 ? `, items like:\n${shape(value[0], depth + 1)}` : "";
    return `${indent}a list of ${value.length} items${first}`;
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    const lines = keys.slice(0, MAX_KEYS_SHOWN).map((key) => {
      const child = (value as Record<string, unknown>)[key];
      const size = typeof child === "string" || Array.isArray(child)
        ? ` (len ${child.length})`
        : child !== null && typeof child === "object"
        ? ` (${Object.keys(child).length} keys)`
        : "";
      return `${indent}  ${JSON.stringify(key)}: ${typeName(child)}${size}`;
    });
    const more = keys.length > MAX_KEYS_SHOWN
      ? `\n${indent}  ... ${keys.length - MAX_KEYS_SHOWN} more keys`
      : "";
    return `${indent}a dict with ${keys.length} keys:\n${lines.join("\n")}${more}`;
  }
  return `${indent}a ${typeName(value)}`;
}
