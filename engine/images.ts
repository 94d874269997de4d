// Images sent to an agent's model with its first message. They reach the engine as base64 with a
// media type (the host reads files and sniffs the type; agent code can only pass bytes or data
// URLs); here they are checked again, since a REPL process is untrusted, and hashed for the log.
import { agentError } from "./errors.ts";
import type { ImagePart } from "./chat_message.ts";

export type ImageInput = { media_type: string; data: string };

export const IMAGE_MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

// `maxBytes` is max_value_mb: the decoded images of one agent, together, may not exceed it.
export async function checkedImages(inputs: unknown, maxBytes: number): Promise<ImagePart[]> {
  if (inputs === undefined || inputs === null) return [];
  if (!Array.isArray(inputs)) throw agentError("images must be a list");
  const parts: ImagePart[] = [];
  let total = 0;
  for (const [index, input] of inputs.entries()) {
    const image = input as Partial<ImageInput> | null;
    if (
      image === null || typeof image !== "object" || typeof image.data !== "string" ||
      typeof image.media_type !== "string" || !IMAGE_MEDIA_TYPES.includes(image.media_type)
    ) {
      throw agentError(
        `images[${index}] is not an image of a known type (${IMAGE_MEDIA_TYPES.join(", ")})`,
      );
    }
    let decoded: Uint8Array<ArrayBuffer>;
    try {
      decoded = Uint8Array.from(atob(image.data), (char) => char.charCodeAt(0));
    } catch {
      throw agentError(`images[${index}] is not valid base64`);
    }
    total += decoded.length;
    if (total > maxBytes) {
      throw agentError(
        `the images come to over max_value_mb=${maxBytes / (1024 * 1024)} MB; send fewer or smaller ones`,
      );
    }
    parts.push({
      type: "image",
      media_type: image.media_type,
      data: image.data,
      sha256: await sha256Hex(decoded),
      bytes: decoded.length,
    });
  }
  return parts;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
