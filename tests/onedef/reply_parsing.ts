// Reads {"openai": payload, "anthropic": payload} pairs (a JSON list on stdin) and prints each
// provider's parsed reply, for tests/onedef/test_reply_parsing.py.
import { AnthropicProvider } from "../../engine/models/anthropic_client.ts";
import { OpenAiProvider } from "../../engine/models/openai_client.ts";

const options = { baseUrl: "http://127.0.0.1:9", apiKey: "", promptCaching: false };
const openai = new OpenAiProvider(options);
const anthropic = new AnthropicProvider(options);
const pairs = JSON.parse(await new Response(Deno.stdin.readable).text());
const parsed = pairs.map((pair: { openai: unknown; anthropic: unknown }) => ({
  openai: openai.parseReply(pair.openai),
  anthropic: anthropic.parseReply(pair.anthropic),
}));
console.log(JSON.stringify(parsed));
