// A compact description of an agent's context for its first prompt: type, size, and for dicts and
// lists the shape, with short previews. The full value stays in the REPL.
const PREVIEW_CHARS = 300;
const MAX_KEYS_SHOWN = 20;

export function describeContext(value: unknown): string {
  if (typeof value === "string") {
    return `a str of ${value.length} characters. Start: ${JSON.stringify(value.slice(0, PREVIEW_CHARS))}`;
  }
  return `${shape(value, 0)}\nPreview: ${preview(value)}`;
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

export function preview(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}...` : text;
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
