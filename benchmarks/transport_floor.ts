// The fastest a fan-out's model requests can go on this machine: one request (the root's), then N at
// once, each on a connection of its own, with Deno's fetch and nothing else: no engine, no REPL, no
// log. Run by transport_floor.py against the scripted model server; prints the seconds taken as JSON.
const [url, childrenText, body] = Deno.args;
const children = Number(childrenText);

async function ask(): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer floor" },
    body,
  });
  await response.text();
}

const started = performance.now();
await ask();
await Promise.all(Array.from({ length: children }, ask));
console.log(JSON.stringify({ requests_s: (performance.now() - started) / 1000 }));
