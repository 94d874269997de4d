// The one way agents reach a model: by name, either an HTTP provider or a Python callable on the
// host (HostModelClient). Every client takes the same arguments and passes the same request gate.
import type { ChatMessage } from "./chat_message.ts";
import type { AttemptHooks, Completion } from "./llm_client.ts";

export interface ModelClient {
  complete(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion>;
}

export class ModelRouter implements ModelClient {
  constructor(
    private readonly providers: ModelClient,
    private readonly hostModels: ModelClient,
    private readonly hostModelNames: Set<string>,
  ) {}

  complete(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    const client = this.hostModelNames.has(model) ? this.hostModels : this.providers;
    return client.complete(model, messages, runSignal, hooks);
  }
}
