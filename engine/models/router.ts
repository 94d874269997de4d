// The model client the run uses: each call goes to the provider its model name names
// (model_names.ts), with the provider prefix taken off.
import { agentError } from "../errors.ts";
import type { AttemptHooks, CallParameters, ChatMessage, Completion, ModelClient } from "./client.ts";
import { type ProviderName, routeOf } from "./model_names.ts";

const KEY_SOURCES: Record<ProviderName, string> = {
  openai: "RLM_MODEL_API_KEY or config api_key",
  anthropic: "ANTHROPIC_API_KEY or config anthropic_api_key",
};

// A provider whose key the run was not given has no client.
export class ModelRouter implements ModelClient {
  constructor(private readonly clients: Record<ProviderName, ModelClient | null>) {}

  complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    const route = routeOf(model);
    const client = this.clients[route.provider];
    if (client === null) {
      return Promise.reject(agentError(
        `the run has no API key for the model ${JSON.stringify(model)}: set ${KEY_SOURCES[route.provider]} ` +
          "before the run starts",
      ));
    }
    return client.complete(route.model, messages, parameters, runSignal, hooks);
  }
}
