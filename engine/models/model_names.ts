// Which provider serves a model name. "anthropic:claude-..." goes to the native Anthropic Messages
// API; "openai:name" and a name without a provider prefix go to the OpenAI-compatible endpoint at
// base_url (OpenRouter names such as "anthropic/claude-..." included). fast_rlm/inputs/providers.py applies
// the same rules to the configured models before the engine starts; here they cover the model= of
// an llm_query.
import { agentError } from "../errors.ts";

export type ProviderName = "openai" | "anthropic";
export type ModelRoute = { provider: ProviderName; model: string };

const PREFIX = /^([A-Za-z][A-Za-z0-9_-]*):(.+)$/s;
// "llama3:8b" and "mistral:latest" are Ollama tags, not provider prefixes.
const OLLAMA_TAG = /^(latest|\d)/;
const PROVIDERS: ReadonlySet<string> = new Set<ProviderName>(["openai", "anthropic"]);

export function routeOf(model: string): ModelRoute {
  const match = PREFIX.exec(model);
  if (match === null || OLLAMA_TAG.test(match[2])) return { provider: "openai", model };
  const [, prefix, name] = match;
  if (PROVIDERS.has(prefix)) return { provider: prefix as ProviderName, model: name };
  throw agentError(
    `unknown provider prefix "${prefix}:" in the model name ${JSON.stringify(model)}. Use ` +
      `"anthropic:<model>" for the Anthropic API, or a name of the OpenAI-compatible endpoint ` +
      `("openai:<name>" when the name itself holds a colon).`,
  );
}
