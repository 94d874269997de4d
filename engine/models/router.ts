// The model client the run uses, and the one place that decides who serves a model name: a Python
// model of the run (run(model=fn) / run(models={...})) is called on the host; any other name goes to
// the provider its prefix names (model_names.ts), with the prefix taken off.
import type { ChatMessage } from "../chat_message.ts";
import { agentError } from "../errors.ts";
import type { AttemptHooks, CallParameters, Completion, ModelClient } from "./client.ts";
import { type ProviderName, routeOf } from "./model_names.ts";

const KEY_SOURCES: Record<ProviderName, string> = {
  openai: "RLM_MODEL_API_KEY or config api_key",
  anthropic: "ANTHROPIC_API_KEY or config anthropic_api_key",
};

// Who serves a model: the host (a Python model), or a provider under the model's own name there.
export type ModelServer = { kind: "host" } | { kind: "provider"; provider: ProviderName; model: string };

export class ModelRouter implements ModelClient {
  // A provider whose key the run was not given has no client.
  constructor(
    private readonly providers: Record<ProviderName, ModelClient | null>,
    private readonly hostModels: ModelClient,
    private readonly hostModelNames: ReadonlySet<string>,
  ) {}

  // Throws an AgentError for an unknown provider prefix.
  serverOf(model: string): ModelServer {
    if (this.hostModelNames.has(model)) return { kind: "host" };
    return { kind: "provider", ...routeOf(model) };
  }

  complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    let server: ModelServer;
    try {
      server = this.serverOf(model);
    } catch (error) {
      return Promise.reject(error);
    }
    if (server.kind === "host") {
      return this.hostModels.complete(model, messages, parameters, runSignal, hooks);
    }
    const client = this.providers[server.provider];
    if (client === null) {
      return Promise.reject(agentError(
        `the run has no API key for the model ${JSON.stringify(model)}: set ${
          KEY_SOURCES[server.provider]
        } ` +
          "before the run starts",
      ));
    }
    return client.complete(server.model, messages, parameters, runSignal, hooks);
  }
}
