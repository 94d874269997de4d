// HTTP for agent code, performed by the supervisor on the worker's behalf. The worker (where agent
// code runs) has no network permission; this isolate's process was started with
// `--allow-net=<allow_net>`, so Deno's own permission check decides which hosts are reachable, for
// the first request and for every redirect hop (each hop is a fetch of its own here). Only http and
// https URLs are fetched: file:, data: and blob: would reach what the network grant does not cover.
//
// Bodies are read whole and capped by max_value_mb; a request of an overdue step is aborted, so a
// slow server cannot hold a step past step_timeout_s.
import type { HttpReply, HttpRequest } from "./repl_messages.ts";

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Set by fetch itself, or meaningless once the body is re-sent by another client.
const REQUEST_HEADERS_DROPPED = new Set([
  "host",
  "content-length",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);
// fetch hands the body over decoded, so its encoding and length no longer describe it.
const RESPONSE_HEADERS_DROPPED = new Set(["content-encoding", "content-length", "transfer-encoding"]);
// Credentials are not carried to another origin on a redirect, as browsers and requests do.
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);
const GRANT_ADVICE = "add it to allow_net (fast_rlm.run(..., allow_net=[...]) or the allow_net config key)";

class RelayRefusal extends Error {}

type OpenRequest = { stepId: number; controller: AbortController };

export class HttpRelay {
  private open = new Map<number, OpenRequest>();

  constructor(private maxBodyBytes: number, private reply: (message: HttpReply) => void) {}

  async relay(request: HttpRequest): Promise<void> {
    const controller = new AbortController();
    this.open.set(request.requestId, { stepId: request.stepId, controller });
    try {
      const { response, url, redirected } = await this.fetchWithinGrant(request, controller.signal);
      const body = await this.readCapped(response, url);
      const headers = [...response.headers].filter(([name]) => !RESPONSE_HEADERS_DROPPED.has(name));
      this.reply({
        kind: "http_reply",
        requestId: request.requestId,
        ok: true,
        status: response.status,
        statusText: response.statusText,
        headers,
        url: url.href,
        redirected,
        body,
      });
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      this.reply({ kind: "http_reply", requestId: request.requestId, ok: false, error: describe(reason) });
    } finally {
      this.open.delete(request.requestId);
    }
  }

  // The caller gave up on a request.
  cancel(requestId: number): void {
    this.open.get(requestId)?.controller.abort(new RelayRefusal("the request was cancelled"));
  }

  // The step ran past step_timeout_s: its requests end now, so the step can be stopped.
  cancelStep(stepId: number): void {
    for (const open of this.open.values()) {
      if (open.stepId === stepId) {
        open.controller.abort(new RelayRefusal("the request was stopped: its step ran past step_timeout_s"));
      }
    }
  }

  private async fetchWithinGrant(request: HttpRequest, signal: AbortSignal) {
    let url = parseUrl(request.url);
    let method = request.method;
    let body: Uint8Array<ArrayBuffer> | null = request.body;
    let headers = request.headers.filter(([name]) => !REQUEST_HEADERS_DROPPED.has(name.toLowerCase()));
    for (let hop = 0;; hop++) {
      const response = await fetchOne(url, { method, headers, body, redirect: "manual", signal });
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || location === null || request.redirect === "manual") {
        return { response, url, redirected: hop > 0 };
      }
      await response.body?.cancel();
      if (request.redirect === "error") {
        throw new RelayRefusal(`${url.href} redirected and redirects were refused`);
      }
      if (hop === MAX_REDIRECTS) {
        throw new RelayRefusal(`more than ${MAX_REDIRECTS} redirects from ${request.url}`);
      }
      const next = parseUrl(new URL(location, url).href);
      if (response.status === 303 || ([301, 302].includes(response.status) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = null;
        headers = headers.filter(([name]) => !name.toLowerCase().startsWith("content-"));
      }
      if (next.origin !== url.origin) {
        headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase()));
      }
      url = next;
    }
  }

  private async readCapped(response: Response, url: URL): Promise<Uint8Array<ArrayBuffer>> {
    const tooLarge = (bytes: number) =>
      new RelayRefusal(
        `the response from ${url.href} is over max_value_mb (${bytes} bytes and counting, the cap is ` +
          `${this.maxBodyBytes}): ask for less (a page, a range), or raise max_value_mb in the config`,
      );
    const declared = Number(response.headers.get("content-length") ?? 0);
    if (declared > this.maxBodyBytes) {
      await response.body?.cancel();
      throw tooLarge(declared);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (response.body !== null) {
      for await (const chunk of response.body) {
        total += chunk.length;
        if (total > this.maxBodyBytes) throw tooLarge(total); // leaving the loop cancels the stream
        chunks.push(chunk);
      }
    }
    const body = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    return body;
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RelayRefusal(`${JSON.stringify(text)} is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RelayRefusal(
      `only http and https URLs can be fetched, not ${url.protocol} (${url.href.slice(0, 80)})`,
    );
  }
  return url;
}

async function fetchOne(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      const port = url.port || (url.protocol === "https:" ? "443" : "80");
      throw new RelayRefusal(
        `network access to ${url.hostname}:${port} is not granted (${
          url.href.slice(0, 200)
        }): ${GRANT_ADVICE}`,
      );
    }
    throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof RelayRefusal) return error.message;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `the request failed: ${message}`;
}
