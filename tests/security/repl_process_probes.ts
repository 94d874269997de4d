// Runs in place of engine/repl/supervisor.ts, started with the REPL process's exact command
// (repl_process_command.ts), so every probe here meets the same Deno permissions, V8 flags and
// environment that agent code would meet if it ever reached JavaScript. Each probe records exactly
// what happened: the error's name and message, or "ALLOWED: <value>".
//
// Input (JSON on stdin, as the engine's frames would come): `phase` and the paths and ports to aim
// at. Output: the outcomes as JSON on stdout.
//   attempt:   everything the process must refuse, with loopback as the only network target.
//   read_back: a second process looks for what the first tried to store; with `outside`, it also
//              aims at hosts beyond loopback (the test runs it with no network but loopback then).
import { createRequire } from "node:module";

type Input = {
  phase: "attempt" | "read_back";
  outside: boolean;
  secret: string;
  hostDir: string;
  secretFile: string;
  hostModule: string;
  writeTarget: string;
  deleteTarget: string;
  marker: string;
  pyodideDir: string;
  snapshotFile: string;
  sentinelPort: number;
  victimPid: number;
  storageKey: string;
};

const input: Input = JSON.parse(await new Response(Deno.stdin.readable).text());
const outcomes: Record<string, string> = {};
const sentinelUrl = `http://127.0.0.1:${input.sentinelPort}`;
const storedUrl = `https://fast-rlm.invalid/${input.storageKey}`;

async function probe(name: string, action: () => unknown): Promise<void> {
  try {
    const value = await action();
    outcomes[name] = "ALLOWED: " +
      (typeof value === "string" ? value : JSON.stringify(value) ?? String(value));
  } catch (error) {
    outcomes[name] = error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${error}`;
  }
}

// A fresh realm must not regain anything: `source` runs in a nested worker and posts back its
// value, or the error it threw as {name, message}.
function fromNestedWorker(source: string): Promise<unknown> {
  const module = `try { postMessage({ value: ${source} }); }
    catch (error) { postMessage({ name: error.name, message: error.message }); }`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(`data:text/javascript,${encodeURIComponent(module)}`, { type: "module" });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if ("value" in data) return resolve(data.value);
      reject(Object.assign(new Error(data.message), { name: data.name }));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`the nested worker failed: ${event.message}`));
    };
  });
}

if (input.phase === "attempt") {
  // The file system: nothing beyond reading Pyodide's files, the snapshot and the worker's modules.
  await probe(
    "read Pyodide's package.json",
    () => JSON.parse(Deno.readTextFileSync(`${input.pyodideDir}package.json`)).name,
  );
  await probe("read a host file", () => Deno.readTextFileSync(input.secretFile));
  await probe("read /proc/self/environ", () => Deno.readTextFileSync("/proc/self/environ"));
  await probe("list a host directory", () => [...Deno.readDirSync(input.hostDir)].map((entry) => entry.name));
  await probe("list /", () => [...Deno.readDirSync("/")].map((entry) => entry.name));
  await probe("write a host file", () => Deno.writeTextFileSync(input.writeTarget, input.secret));
  await probe(
    "write into Pyodide's directory",
    () => Deno.writeTextFileSync(`${input.pyodideDir}written`, "x"),
  );
  // Opening for writing is checked before anything is written; nothing is written if it opens.
  await probe(
    "open the snapshot for writing",
    () => Deno.openSync(input.snapshotFile, { write: true }).close(),
  );
  await probe("delete a host file", () => Deno.removeSync(input.deleteTarget));
  await probe(
    "import() a host module",
    () => import(`file://${input.hostModule}`).then((module) => module.default),
  );
  await probe(
    "nested worker reads a host file",
    () => fromNestedWorker(`Deno.readTextFileSync(${JSON.stringify(input.secretFile)})`),
  );

  // The network, aimed at loopback only: the sentinel records anything that arrives.
  await probe("fetch the loopback sentinel", () => fetch(sentinelUrl).then((response) => response.status));
  await probe(
    "Deno.connect to the loopback sentinel",
    () => Deno.connect({ hostname: "127.0.0.1", port: input.sentinelPort }),
  );
  await probe(
    "WebSocket to the loopback sentinel",
    () => new WebSocket(`ws://127.0.0.1:${input.sentinelPort}`).url,
  );
  await probe("Deno.listen on loopback", () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).addr);
  await probe("import() from the loopback sentinel", () => import(`${sentinelUrl}/module.js`));
  const npmPackage = "npm:left-pad"; // a variable: static analysis must not try to fetch it
  await probe("import() an npm package", () => import(npmPackage));

  // Programs, signals, native code, the system, the environment.
  await probe(
    "Deno.Command",
    () => new Deno.Command("/bin/sh", { args: ["-c", `touch ${input.marker}`] }).outputSync(),
  );
  // What Emscripten's system() (Python's os.system) calls in Pyodide.
  await probe(
    "node:child_process.spawnSync",
    () =>
      createRequire(import.meta.url)("node:child_process").spawnSync(`touch ${input.marker}`, [], {
        shell: true,
        stdio: "inherit",
      }).status,
  );
  await probe("Deno.kill a host process", () => Deno.kill(input.victimPid, "SIGTERM"));
  await probe("Deno.dlopen libc", () => Deno.dlopen("libc.so.6", {}));
  await probe("Deno.hostname", () => Deno.hostname());
  await probe("Deno.env.toObject", () => Deno.env.toObject());
  await probe("Deno.env.get(DENO_DIR)", () => Deno.env.get("DENO_DIR"));

  // Code from strings.
  await probe("eval", () => eval("1 + 1"));
  await probe("new Function", () => new Function("return 1 + 1")());
  await probe(
    "import() a data: URL",
    () => import("data:text/javascript,export default 1 + 1").then((m) => m.default),
  );

  // Storage that would outlive the process.
  await probe("Cache API put", async () => {
    const cache = await caches.open("fast-rlm-probe");
    await cache.put(storedUrl, new Response(input.secret));
    return "stored";
  });
  await probe("localStorage.setItem", () => localStorage.setItem(input.storageKey, input.secret));
  await probe("Deno.openKv", () => (Deno as unknown as { openKv: () => Promise<unknown> }).openKv());
} else {
  await probe("Cache API read back", async () => {
    const cache = await caches.open("fast-rlm-probe");
    return (await (await cache.match(storedUrl))?.text()) ?? null;
  });
  await probe("localStorage read back", () => localStorage.getItem(input.storageKey));
  if (input.outside) {
    await probe(
      "fetch an outside host",
      () => fetch("https://example.com/").then((response) => response.status),
    );
    await probe(
      "Deno.connect to an outside host",
      () => Deno.connect({ hostname: "example.com", port: 443 }),
    );
    await probe("Deno.resolveDns", () => Deno.resolveDns("example.com", "A"));
  }
}

console.log(JSON.stringify(outcomes));
