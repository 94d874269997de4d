// The messages of an agent's conversation, as every model client receives them. A message's content
// is text, or a list of parts when it carries images (llm_query(..., images=[...]) or
// run(images=[...])). Each client writes the parts in its provider's format; the log records an
// image by its hash, type and size, never its bytes.

export type TextPart = { type: "text"; text: string };

// An image checked by images.ts: `data` is its base64, `sha256` and `bytes` are of the decoded image.
export type ImagePart = { type: "image"; media_type: string; data: string; sha256: string; bytes: number };

export type ContentPart = TextPart | ImagePart;

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string | ContentPart[] };

// What the log holds of an image.
export type ImageRecord = { sha256: string; media_type: string; bytes: number };

// What the log holds of a message: its text, and its images by record when it has any.
export type LoggedMessage = { role: string; content: string; images?: ImageRecord[] };

export function messageText(message: ChatMessage): string {
  if (typeof message.content === "string") return message.content;
  return message.content.flatMap((part) => part.type === "text" ? [part.text] : []).join("\n");
}

export function messageImages(message: ChatMessage): ImagePart[] {
  if (typeof message.content === "string") return [];
  return message.content.filter((part): part is ImagePart => part.type === "image");
}

export function imageRecord(image: ImagePart): ImageRecord {
  return { sha256: image.sha256, media_type: image.media_type, bytes: image.bytes };
}

export function loggedMessage(message: ChatMessage): LoggedMessage {
  const images = messageImages(message);
  const text = messageText(message);
  return images.length === 0
    ? { role: message.role, content: text }
    : { role: message.role, content: text, images: images.map(imageRecord) };
}

// A text message, with images after the text when there are any.
export function withImages(role: ChatMessage["role"], text: string, images: ImagePart[]): ChatMessage {
  if (images.length === 0) return { role, content: text };
  return { role, content: [{ type: "text", text }, ...images] };
}

// The message with `redact` applied to its text (images are the caller's bytes, sent as they are).
export function redactedMessage(message: ChatMessage, redact: (text: string) => string): ChatMessage {
  if (typeof message.content === "string") return { role: message.role, content: redact(message.content) };
  return {
    role: message.role,
    content: message.content.map((part) =>
      part.type === "text" ? { type: "text", text: redact(part.text) } : part
    ),
  };
}

// OpenAI's chat-completions content: a string, or text and image_url parts (images as data URLs).
export function openAiContent(message: ChatMessage): string | Record<string, unknown>[] {
  if (typeof message.content === "string") return message.content;
  return message.content.map((part) =>
    part.type === "text"
      ? { type: "text", text: part.text }
      : { type: "image_url", image_url: { url: `data:${part.media_type};base64,${part.data}` } }
  );
}
