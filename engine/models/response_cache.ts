// The opt-in response cache (config cache_dir): a reply is kept on disk under the SHA-256 of its
// full request (model, messages, parameters) and given again, for nothing, to the same request in
// this run or a later one. Files are written whole (a temporary file renamed into place), so runs
// sharing the directory never read half a reply; an unreadable entry is a miss and is rewritten.
import { type ChatMessage, loggedMessage } from "../chat_message.ts";
import type { AttemptHooks, CallParameters, Completion, ModelClient } from "./client.ts";
import type { ModelReply } from "../reply_parts.ts";

const ENTRY_VERSION = 1;

type Entry = { v: typeof ENTRY_VERSION; reply: ModelReply };

// What the rest of the engine sees of a hit: a completion no request was sent for.
export const CACHE_HIT_USAGE = {
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost: 0,
};

export class ResponseCache implements ModelClient {
  constructor(private readonly directory: string, private readonly inner: ModelClient) {}

  async complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    const path = await this.entryPath(model, messages, parameters);
    const hit = await this.read(path);
    if (hit !== null) return { reply: hit, usage: CACHE_HIT_USAGE, attempts: 0, cached: true };
    const completion = await this.inner.complete(model, messages, parameters, runSignal, hooks);
    await this.write(path, { v: ENTRY_VERSION, reply: completion.reply });
    return completion;
  }

  // Images count by their hash (loggedMessage): the key then needs no pass over their bytes.
  private async entryPath(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
  ): Promise<string> {
    const request = JSON.stringify({ model, messages: messages.map(loggedMessage), parameters });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(request));
    const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
    return `${this.directory}/${hex.slice(0, 2)}/${hex}.json`;
  }

  // Asynchronous I/O: a hundred agents asking at once must not queue behind each other's disk reads.
  private async read(path: string): Promise<ModelReply | null> {
    let entry: Entry;
    try {
      entry = JSON.parse(await Deno.readTextFile(path));
    } catch {
      return null; // absent, or not an entry this version wrote
    }
    if (entry?.v !== ENTRY_VERSION || typeof entry.reply?.text !== "string") return null;
    return entry.reply;
  }

  // A cache that cannot be written (disk full, permissions) costs a later run a request, not this
  // run its answer.
  private async write(path: string, entry: Entry): Promise<void> {
    const temporary = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(temporary, JSON.stringify(entry));
      await Deno.rename(temporary, path);
    } catch {
      try {
        await Deno.remove(temporary);
      } catch {
        // never written
      }
    }
  }
}
