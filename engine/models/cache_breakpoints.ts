// Where an agent's prompt is marked cacheable (Anthropic's cache_control, natively or through a
// gateway that passes it on). A cache entry holds the prompt up to a marked message, and a later
// request reads the longest entry its prompt starts with. Marked: the system prompt (the same for
// every call of the agent), the previous call's last message (what the previous call wrote), and
// the last message (what the next call will read). Three of Anthropic's four breakpoints.
import type { ChatMessage } from "../chat_message.ts";

export function cacheBreakpoints(messages: ChatMessage[]): Set<number> {
  const marked = new Set<number>();
  if (messages.length === 0) return marked;
  if (messages[0].role === "system") marked.add(0);
  const last = messages.length - 1;
  marked.add(last);
  const previousReply = messages.findLastIndex((message) => message.role === "assistant");
  if (previousReply > 0) marked.add(previousReply - 1);
  return marked;
}

export const EPHEMERAL = { type: "ephemeral" } as const;
