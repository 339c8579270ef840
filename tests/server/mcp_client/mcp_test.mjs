// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) against
// flashembed's MCP server (docs/MCP.md), over both transports:
//  A. stdio: `flashembed mcp --db TMP/db --root TMP/root` spawned by the SDK's
//     StdioClientTransport: initialize (server name, tools capability,
//     protocol 2025-11-25), the six tools with their schemas, then every tool
//     through Client.callTool (whose output-schema validation of
//     structuredContent is part of the test): add_texts (ids given and UUIDs,
//     duplicates without upsert write nothing, upsert replaces), search
//     (ranking, filter, bad filter, missing collection), get (missing ids),
//     delete (ids, ids + filter refused, a filter matching chunks refused),
//     list_collections, ingest_files (a folder, again = unchanged, a changed
//     file = replaced, paths and symlinks leading outside the root refused
//     before anything is read, images reported), an unknown tool (-32602), a
//     clean exit on end of input with nothing but JSON-RPC on stdout; then
//     `flashembed mcp --read-only` (three tools, writes refused) and
//     `flashembed mcp` without --root (ingest_files refused).
//  B. Streamable HTTP at URL/mcp of the `flashembed serve` the driver started
//     (--token mcp-test-token --mcp-root <source>/data/sample): the SDK's
//     StreamableHTTPClientTransport (stateless: no session id, GET answered
//     405) ingests corpus.jsonl (JSON Lines: one document per record) and runs
//     the 14 queries of queries.jsonl; then raw fetch for what the SDK does not
//     show: 401 without the token, 202 for a notification, 405 for GET and
//     DELETE, foreign Origins allowed with the token, 400 for an unknown
//     MCP-Protocol-Version, JSON-RPC errors -32600 / -32700 / -32601 / -32602,
//     and protocol revision negotiation.
//   node mcp_test.mjs http://127.0.0.1:PORT FLASHEMBED_BINARY
// Environment: FLASHEMBED_MCP_TOKEN (the server's --token),
// FLASHEMBED_SAMPLE_DIR (<source>/data/sample, the server's --mcp-root).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError } from "@modelcontextprotocol/sdk/types.js";

const [url, cli] = process.argv.slice(2);
const token = process.env.FLASHEMBED_MCP_TOKEN;
const sampleDir = process.env.FLASHEMBED_SAMPLE_DIR;
assert.ok(
  url && cli && token && sampleDir,
  "usage: node mcp_test.mjs URL FLASHEMBED_BINARY (and FLASHEMBED_MCP_TOKEN, FLASHEMBED_SAMPLE_DIR)",
);
// The server's current revision, which the SDK also offers first.
const CURRENT = "2025-11-25";
assert.equal(LATEST_PROTOCOL_VERSION, CURRENT, "the pinned SDK offers 2025-11-25");
const ALL_TOOLS = ["add_texts", "delete", "get", "ingest_files", "list_collections", "search"];
const READ_TOOLS = ["get", "list_collections", "search"];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

// A hung server must fail the test, not the CTest timeout.
const watchdog = setTimeout(() => {
  console.error("mcp_client: timed out after 240 s");
  process.exit(1);
}, 240_000);

// ---------------------------------------------------------------- helpers

// A successful tool result: not isError, structuredContent present, and its
// one text item the same JSON. Returns structuredContent.
function ok(result, what) {
  assert.notEqual(result.isError, true, `${what}: isError: ${JSON.stringify(result.content)}`);
  assert.equal(typeof result.structuredContent, "object", `${what}: structuredContent`);
  assert.equal(result.content.length, 1, `${what}: one content item`);
  assert.equal(result.content[0].type, "text", `${what}: content[0].type`);
  assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent, `${what}: text == structuredContent`);
  return result.structuredContent;
}

// A failed tool call (isError: true) whose text matches `pattern`. Returns the text.
function failed(result, pattern, what) {
  assert.equal(result.isError, true, `${what}: expected isError, got ${JSON.stringify(result)}`);
  const text = result.content
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
  assert.ok(text.length > 0, `${what}: the reason as text`);
  assert.match(text, pattern, `${what}: message`);
  return text;
}

const call = (client, name, args) => client.callTool({ name, arguments: args });

async function toolNames(client) {
  const { tools } = await client.listTools();
  for (const t of tools) {
    assert.equal(t.inputSchema.type, "object", `${t.name}.inputSchema.type`);
    assert.equal(t.outputSchema?.type, "object", `${t.name}.outputSchema.type`);
  }
  return tools.map((t) => t.name).sort();
}

// The stdio transport with a record of the negotiated revision (Client.connect
// hands it to transport.setProtocolVersion when the transport has one, as the
// HTTP transport does) and of how the child process ended.
class RecordingStdioTransport extends StdioClientTransport {
  setProtocolVersion(version) {
    this.negotiated = version;
  }
  async start() {
    await super.start();
    // The SDK keeps the ChildProcess private; kept here to end its input and
    // see its exit status.
    this.child = this._process;
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
  }
}

// Starts `flashembed mcp ARGS` and connects a Client. The server's stderr is
// kept to show on failure; transport errors (for instance a stdout line that
// is not JSON-RPC) are collected in `errors`.
async function startStdio(args) {
  const transport = new RecordingStdioTransport({ command: cli, args: ["mcp", ...args], stderr: "pipe" });
  const stderr = [];
  transport.stderr.on("data", (d) => stderr.push(d.toString()));
  const client = new Client({ name: "flashembed-mcp-test", version: "1.0.0" });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`connect to flashembed mcp ${args.join(" ")}: ${e}\nstderr: ${stderr.join("")}`);
  }
  return { client, transport, errors, stderr };
}

// Ends the server's input, as Client.close() does first, and checks that the
// server then ends by itself with exit 0 (Client.close() would signal it
// after 2 s; this waits longer, for a loaded machine), having written nothing
// but JSON-RPC messages on stdout. Then closes the client.
async function stopStdio({ client, transport, errors, stderr }, what) {
  transport.child.stdin.end();
  let timer;
  const ended = await Promise.race([
    transport.exited,
    new Promise((resolve) => (timer = setTimeout(() => resolve(null), 30_000))),
  ]);
  clearTimeout(timer);
  assert.ok(ended, `${what}: still running 30 s after the end of its input`);
  assert.equal(ended.signal, null, `${what}: exit signal`);
  assert.equal(ended.code, 0, `${what}: exit code; stderr: ${stderr.join("")}`);
  await client.close();
  assert.deepEqual(errors.map(String), [], `${what}: transport errors (non-JSON-RPC output on stdout?)`);
}

// ---------------------------------------------------------------- A. stdio

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flashembed-mcp-test-"));
try {
  const db = path.join(tmp, "db");
  const root = path.join(tmp, "root");
  fs.mkdirSync(path.join(root, "notes"), { recursive: true });
  fs.mkdirSync(path.join(root, "trap"), { recursive: true });
  const aText =
    "# Beekeeping\n\nA honeybee colony lives in a hive with one queen, thousands of workers and a few drones.\n" +
    "Workers build honeycomb from wax and store nectar that ripens into honey.\n";
  const bText =
    "Tide pools hold anemones, starfish and barnacles that survive the pounding surf.\n" +
    "At low tide the rock basins stay full of cold seawater.\n";
  fs.writeFileSync(path.join(root, "notes", "a.md"), aText);
  fs.writeFileSync(path.join(root, "notes", "b.txt"), bText);
  fs.writeFileSync(path.join(root, "trap", "fine.md"), "An innocent note about gardening tomatoes.\n");
  fs.writeFileSync(path.join(tmp, "outside.txt"), "A secret outside the root: volcano obsidian.\n");
  fs.symlinkSync(path.join(tmp, "outside.txt"), path.join(root, "escape.txt"));
  fs.symlinkSync(path.join("..", "..", "outside.txt"), path.join(root, "trap", "link.txt"));
  fs.symlinkSync(path.join("notes", "a.md"), path.join(root, "inside-link.md"));
  // A one-pixel PNG: images are not read by ingest_files.
  fs.writeFileSync(
    path.join(root, "pic.png"),
    Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
      "base64",
    ),
  );

  const s = await startStdio(["--db", db, "--root", root]);
  const c = s.client;

  // Initialization.
  assert.equal(c.getServerVersion()?.name, "flashembed");
  assert.equal(typeof c.getServerVersion()?.version, "string");
  assert.ok(c.getServerCapabilities()?.tools, "tools capability");
  assert.equal(s.transport.negotiated, CURRENT, "negotiated protocol revision");
  await c.ping();

  // Tools (listTools also makes callTool check structuredContent against the
  // output schemas from here on).
  assert.deepEqual(await toolNames(c), ALL_TOOLS);

  // add_texts: a new collection, one id given, two UUIDs.
  const texts = [
    "The lighthouse keeper polished the brass lantern every evening.",
    "Sourdough bread needs a lively starter and a long cold proof.",
    "Glaciers carve U-shaped valleys as they grind slowly downhill.",
  ];
  const added = ok(
    await call(c, "add_texts", {
      collection: "memory",
      records: [{ id: "fact-1", text: texts[0], metadata: { kind: "fact" } }, { text: texts[1] }, { text: texts[2] }],
    }),
    "add_texts",
  );
  assert.equal(added.collection, "memory");
  assert.equal(added.created, true);
  assert.equal(added.ids.length, 3);
  assert.equal(added.ids[0], "fact-1");
  assert.match(added.ids[1], UUID_V4);
  assert.match(added.ids[2], UUID_V4);
  assert.notEqual(added.ids[1], added.ids[2]);
  const [, bread, glacier] = added.ids;

  // An id already stored, without upsert: an error naming it, nothing written
  // (not even the new record of the same call).
  failed(
    await call(c, "add_texts", {
      collection: "memory",
      records: [{ id: "fresh-1", text: "A new record in a failing batch." }, { id: "fact-1", text: "Replaced?" }],
    }),
    /fact-1/,
    "add_texts duplicate",
  );
  let got = ok(await call(c, "get", { collection: "memory", ids: ["fact-1", "fresh-1"] }), "get after duplicate");
  assert.equal(got.records.length, 1);
  assert.equal(got.records[0].id, "fact-1");
  assert.equal(got.records[0].text, texts[0]);
  assert.deepEqual(got.records[0].metadata, { kind: "fact" });
  assert.deepEqual(got.missing, ["fresh-1"]);

  // With upsert: replaced.
  texts[0] = "The lighthouse keeper repainted the spiral staircase red and white.";
  const upserted = ok(
    await call(c, "add_texts", {
      collection: "memory",
      records: [{ id: "fact-1", text: texts[0], metadata: { kind: "fact" } }],
      upsert: true,
    }),
    "add_texts upsert",
  );
  assert.equal(upserted.created, false);
  assert.deepEqual(upserted.ids, ["fact-1"]);
  got = ok(await call(c, "get", { collection: "memory", ids: ["fact-1", "nope"] }), "get");
  assert.equal(got.collection, "memory");
  assert.deepEqual(
    got.records.map((r) => [r.id, r.text]),
    [["fact-1", texts[0]]],
  );
  assert.deepEqual(got.records[0].metadata, { kind: "fact" });
  assert.deepEqual(got.documents, []);
  assert.deepEqual(got.missing, ["nope"]);

  // search: records (no long documents in this collection).
  let found = ok(await call(c, "search", { collection: "memory", query: "glaciers carve valleys downhill" }), "search");
  assert.equal(found.collection, "memory");
  assert.equal(found.documents, false);
  assert.equal(found.hits.length, 3);
  assert.equal(found.hits[0].id, glacier);
  assert.equal(found.hits[0].text, texts[2]);
  assert.equal(typeof found.hits[0].score, "number");
  assert.ok(found.hits[0].score > found.hits[1].score, "hits ordered by score");
  found = ok(await call(c, "search", { collection: "memory", query: "sourdough starter", k: 1 }), "search k=1");
  assert.deepEqual(
    found.hits.map((h) => h.id),
    [bread],
  );
  found = ok(
    await call(c, "search", { collection: "memory", query: "glaciers carve valleys", filter: 'kind == "fact"' }),
    "search filter",
  );
  assert.deepEqual(
    found.hits.map((h) => [h.id, h.metadata.kind]),
    [["fact-1", "fact"]],
  );
  failed(await call(c, "search", { collection: "memory", query: "x", filter: "kind ==" }), /./, "bad filter");
  failed(await call(c, "search", { collection: "ghost", query: "anything" }), /ghost/, "missing collection");
  failed(await call(c, "search", { collection: "memory", query: "x", k: 0 }), /k/, "k out of range");

  // delete: by ids; ids and filter together refused.
  const deleted = ok(await call(c, "delete", { collection: "memory", ids: [bread] }), "delete");
  assert.equal(deleted.collection, "memory");
  assert.equal(deleted.deleted, 1);
  assert.equal(deleted.documents_deleted, 0);
  got = ok(await call(c, "get", { collection: "memory", ids: [bread] }), "get deleted");
  assert.deepEqual(got.records, []);
  assert.deepEqual(got.missing, [bread]);
  failed(
    await call(c, "delete", { collection: "memory", ids: [glacier], filter: 'kind == "fact"' }),
    /./,
    "delete ids + filter",
  );
  got = ok(await call(c, "get", { collection: "memory", ids: [glacier, "fact-1"] }), "get after refused delete");
  assert.equal(got.records.length, 2, "the refused delete deleted nothing");

  // list_collections.
  let listed = ok(await call(c, "list_collections", {}), "list_collections");
  let memory = listed.collections.find((x) => x.name === "memory");
  assert.ok(memory, JSON.stringify(listed));
  assert.equal(memory.count, 2);
  assert.equal(memory.documents, 0);
  assert.match(String(memory.encoder), /hash/);
  assert.ok(memory.text_index, "add_texts creates a text index");

  // ingest_files: a folder relative to the root; ids relative to the root.
  let ingested = ok(await call(c, "ingest_files", { collection: "notes", paths: ["notes"] }), "ingest_files");
  assert.equal(ingested.collection, "notes");
  assert.equal(ingested.created, true);
  assert.equal(ingested.files, 2);
  assert.equal(ingested.added, 2);
  assert.equal(ingested.replaced, 0);
  assert.equal(ingested.unchanged, 0);
  assert.equal(ingested.failed, 0);
  assert.ok(ingested.chunks >= 2, `chunks ${ingested.chunks}`);
  assert.deepEqual(ingested.errors, []);

  // Document search is the default on a collection of long documents.
  found = ok(await call(c, "search", { collection: "notes", query: "honeybee queen hive honeycomb" }), "search notes");
  assert.equal(found.documents, true);
  assert.deepEqual(
    found.hits.map((h) => h.id),
    ["notes/a.md", "notes/b.txt"],
  );
  const fileText = { "notes/a.md": aText, "notes/b.txt": bText };
  for (const hit of found.hits) {
    assert.equal(typeof hit.score, "number");
    assert.ok(hit.source.endsWith(`/${hit.id}`), `source ${hit.source}`);
    assert.ok(Array.isArray(hit.passages) && hit.passages.length === 1, `${hit.id}: one passage by default`);
    for (const p of hit.passages) {
      const bytes = Buffer.from(fileText[hit.id]);
      assert.ok(fileText[hit.id].includes(p.text), `${hit.id}: passage text is from the file: ${p.text}`);
      assert.equal(bytes.subarray(p.begin, p.end).toString(), p.text, `${hit.id}: [begin, end) of the text`);
      assert.equal(p.ordinal, 0);
    }
  }
  assert.match(found.hits[0].passages[0].text, /honeybee/);
  // Records instead of documents: chunk records.
  found = ok(
    await call(c, "search", { collection: "notes", query: "anemones starfish barnacles", documents: false, k: 1 }),
    "search notes records",
  );
  assert.equal(found.documents, false);
  assert.equal(found.hits[0].id, "notes/b.txt#0");
  assert.ok(bText.includes(found.hits[0].text));
  got = ok(await call(c, "get", { collection: "notes", ids: ["notes/a.md", "zzz.md"] }), "get document");
  assert.deepEqual(got.records, []);
  assert.equal(got.documents.length, 1);
  assert.equal(got.documents[0].id, "notes/a.md");
  assert.equal(got.documents[0].bytes, Buffer.byteLength(aText));
  assert.ok(got.documents[0].chunks >= 1 && got.documents[0].tokens > 0, JSON.stringify(got.documents[0]));
  assert.deepEqual(got.missing, ["zzz.md"]);

  // Again: unchanged; after an edit: replaced.
  ingested = ok(await call(c, "ingest_files", { collection: "notes", paths: ["notes"] }), "ingest_files again");
  assert.equal(ingested.created, false);
  assert.deepEqual([ingested.files, ingested.added, ingested.replaced, ingested.unchanged, ingested.failed], [2, 0, 0, 2, 0]);
  const bText2 = bText + "Hermit crabs trade shells in the shallows.\n";
  fs.writeFileSync(path.join(root, "notes", "b.txt"), bText2);
  ingested = ok(await call(c, "ingest_files", { collection: "notes", paths: ["notes"] }), "ingest_files edited");
  assert.deepEqual([ingested.added, ingested.replaced, ingested.unchanged, ingested.failed], [0, 1, 1, 0]);
  found = ok(await call(c, "search", { collection: "notes", query: "hermit crabs shells" }), "search edited");
  assert.equal(found.hits[0].id, "notes/b.txt");

  // Paths leading outside the root are refused before anything is read.
  const outsideCalls = [
    ["/etc", ["/etc"]],
    ["../outside.txt", ["../outside.txt"]],
    ["absolute outside file", [path.join(tmp, "outside.txt")]],
    ["symlink to outside", ["escape.txt"]],
    ["a folder holding a symlink to outside", ["trap"]],
    ["one good path and one outside", ["notes", "escape.txt"]],
  ];
  for (const [what, paths] of outsideCalls) {
    failed(await call(c, "ingest_files", { collection: "leak", paths }), /outside/i, `ingest_files ${what}`);
  }
  // The whole call was refused: no collection "leak", nothing of trap/fine.md.
  listed = ok(await call(c, "list_collections", {}), "list_collections after refusals");
  assert.ok(!listed.collections.some((x) => x.name === "leak"), JSON.stringify(listed.collections.map((x) => x.name)));
  // A symlink that stays inside the root is followed.
  ingested = ok(await call(c, "ingest_files", { collection: "links", paths: ["inside-link.md"] }), "inside symlink");
  assert.deepEqual([ingested.files, ingested.added, ingested.failed], [1, 1, 0]);
  // An image is reported in errors, not read.
  ingested = ok(await call(c, "ingest_files", { collection: "links", paths: ["pic.png"] }), "ingest_files image");
  assert.equal(ingested.added, 0);
  assert.equal(ingested.errors.length, 1, JSON.stringify(ingested.errors));
  assert.ok(ingested.errors[0].source.endsWith("pic.png"), JSON.stringify(ingested.errors[0]));
  assert.ok(ingested.errors[0].error.length > 0);
  assert.equal(ingested.failed, ingested.errors.length);

  // delete of a long document (with its chunks); a filter matching chunks is refused.
  failed(await call(c, "delete", { collection: "notes", filter: 'chunk["n"] >= 0' }), /./, "delete chunks by filter");
  const docDeleted = ok(await call(c, "delete", { collection: "notes", ids: ["notes/b.txt"] }), "delete document");
  assert.equal(docDeleted.documents_deleted, 1);
  got = ok(await call(c, "get", { collection: "notes", ids: ["notes/b.txt", "notes/b.txt#0", "notes/a.md"] }), "get after delete");
  assert.deepEqual(got.missing, ["notes/b.txt", "notes/b.txt#0"]);
  assert.deepEqual(
    got.documents.map((d) => d.id),
    ["notes/a.md"],
  );
  listed = ok(await call(c, "list_collections", {}), "list_collections notes");
  const notes = listed.collections.find((x) => x.name === "notes");
  assert.equal(notes.documents, 1, JSON.stringify(notes));

  // An unknown tool is a protocol error, not a tool result.
  await assert.rejects(call(c, "nope", {}), (e) => {
    assert.ok(e instanceof McpError, String(e));
    assert.equal(e.code, ErrorCode.InvalidParams);
    return true;
  });
  // Bad arguments are a tool error.
  failed(await call(c, "add_texts", { collection: "memory", records: [] }), /records/, "add_texts no records");
  failed(await call(c, "get", { collection: "memory" }), /ids/, "get without ids");

  await stopStdio(s, "flashembed mcp");

  // Read-only: three tools; a write tool is then an unknown tool (-32602),
  // and nothing is written.
  const r = await startStdio(["--db", db, "--root", root, "--read-only"]);
  assert.deepEqual(await toolNames(r.client), READ_TOOLS);
  await assert.rejects(
    call(r.client, "add_texts", { collection: "memory", records: [{ id: "ro", text: "read-only?" }] }),
    (e) => {
      assert.ok(e instanceof McpError, String(e));
      assert.equal(e.code, ErrorCode.InvalidParams);
      return true;
    },
  );
  await assert.rejects(call(r.client, "ingest_files", { collection: "memory", paths: ["notes"] }), McpError);
  got = ok(await call(r.client, "get", { collection: "memory", ids: ["ro", "fact-1"] }), "read-only get");
  assert.deepEqual(got.missing, ["ro"]);
  assert.equal(got.records[0].text, texts[0]);
  found = ok(await call(r.client, "search", { collection: "memory", query: "lighthouse staircase" }), "read-only search");
  assert.equal(found.hits[0].id, "fact-1");
  listed = ok(await call(r.client, "list_collections", {}), "read-only list_collections");
  memory = listed.collections.find((x) => x.name === "memory");
  assert.equal(memory.count, 2);
  await stopStdio(r, "flashembed mcp --read-only");

  // Without --root, ingest_files is refused (my reading of "the tool is
  // refused": listed, answering isError), other tools work.
  const n = await startStdio(["--db", db]);
  assert.deepEqual(await toolNames(n.client), ALL_TOOLS);
  failed(await call(n.client, "ingest_files", { collection: "notes", paths: ["notes"] }), /root/i, "no --root");
  got = ok(await call(n.client, "get", { collection: "notes", ids: ["notes/a.md"] }), "get without --root");
  assert.equal(got.documents.length, 1);
  await stopStdio(n, "flashembed mcp without --root");
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log("mcp_client: stdio ok");

// ---------------------------------------------------------------- B. Streamable HTTP

const mcpUrl = `${url}/mcp`;
const auth = { Authorization: `Bearer ${token}` };
{
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: auth } });
  const client = new Client({ name: "flashembed-mcp-test", version: "1.0.0" });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  assert.equal(client.getServerVersion()?.name, "flashembed");
  assert.ok(client.getServerCapabilities()?.tools);
  assert.equal(transport.protocolVersion, CURRENT);
  assert.equal(transport.sessionId, undefined, "stateless: no Mcp-Session-Id");
  await client.ping();
  assert.deepEqual(await toolNames(client), ALL_TOOLS);

  // corpus.jsonl is JSON Lines: one document per record, ids from the records.
  const corpus = fs
    .readFileSync(path.join(sampleDir, "corpus.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const ingested = ok(
    await client.callTool({ name: "ingest_files", arguments: { collection: "sample", paths: ["corpus.jsonl"] } }),
    "http ingest_files",
  );
  assert.equal(ingested.collection, "sample");
  assert.equal(ingested.created, true);
  assert.equal(ingested.files, 1);
  assert.equal(ingested.added, corpus.length);
  assert.equal(ingested.failed, 0);
  assert.deepEqual(ingested.errors, []);

  const queries = fs
    .readFileSync(path.join(sampleDir, "queries.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  assert.equal(queries.length, 14);
  let top3 = 0;
  for (const q of queries) {
    const found = ok(
      await client.callTool({ name: "search", arguments: { collection: "sample", query: q.text, k: 3 } }),
      `http search ${q.text}`,
    );
    assert.equal(found.documents, true);
    assert.ok(found.hits.length <= 3);
    if (found.hits.some((h) => h.id === q.expect)) top3++;
  }
  console.log(`mcp_client: ${top3} of ${queries.length} sample queries find their document in the top 3`);
  assert.ok(top3 >= 10, `${top3} of ${queries.length} queries in the top 3`);

  // Metadata of JSON Lines records reaches filters and results.
  const first = corpus[0];
  const got = ok(
    await client.callTool({ name: "get", arguments: { collection: "sample", ids: [first.id] } }),
    "http get",
  );
  assert.equal(got.documents.length, 1);
  assert.equal(got.documents[0].metadata.topic, first.metadata.topic);
  const filtered = ok(
    await client.callTool({
      name: "search",
      arguments: { collection: "sample", query: "black hole", filter: 'lang == "de"', k: 20 },
    }),
    "http search filter",
  );
  const german = new Set(corpus.filter((d) => d.metadata.lang === "de").map((d) => d.id));
  assert.ok(filtered.hits.length > 0);
  for (const h of filtered.hits) assert.ok(german.has(h.id), `${h.id} is not German`);

  await client.close();
  assert.deepEqual(errors.map(String), [], "HTTP transport errors (the GET stream must be a quiet 405)");
}

// Raw HTTP: what the SDK hides.
const headers = (extra = {}) => ({
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
  ...auth,
  ...extra,
});
const initialize = (version, id = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "0" } },
});
async function post(body, extra = {}, hdrs = headers(extra)) {
  const res = await fetch(mcpUrl, { method: "POST", headers: hdrs, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, res };
}
// A JSON-RPC error answer: `code`, and the HTTP status one of `statuses`.
async function rpcError(body, code, statuses, what) {
  const r = await post(body);
  assert.ok(statuses.includes(r.status), `${what}: HTTP ${r.status} ${r.text}`);
  assert.match(r.type, /^application\/json/, `${what}: content type`);
  const msg = JSON.parse(r.text);
  assert.ok(!Array.isArray(msg), `${what}: one response`);
  assert.equal(msg.jsonrpc, "2.0");
  assert.equal(msg.error?.code, code, `${what}: ${r.text}`);
  assert.equal(typeof msg.error.message, "string");
  return msg;
}

{
  // No token: 401 (and a wrong one).
  let r = await post(initialize(CURRENT), {}, { "Content-Type": "application/json", Accept: "application/json, text/event-stream" });
  assert.equal(r.status, 401, r.text);
  r = await post(initialize(CURRENT), { Authorization: "Bearer wrong" });
  assert.equal(r.status, 401, r.text);

  // A request: 200 with one JSON-RPC response, no session id.
  r = await post(initialize(CURRENT));
  assert.equal(r.status, 200, r.text);
  assert.match(r.type, /^application\/json/);
  assert.equal(r.res.headers.get("mcp-session-id"), null);
  let msg = JSON.parse(r.text);
  assert.equal(msg.id, 1);
  assert.equal(msg.result.protocolVersion, CURRENT);
  assert.equal(msg.result.serverInfo.name, "flashembed");
  assert.ok(msg.result.capabilities.tools);

  // Revision negotiation.
  for (const [asked, answered] of [
    ["2025-06-18", "2025-06-18"],
    ["2025-03-26", "2025-03-26"],
    ["2024-11-05", "2024-11-05"],
    ["2030-01-01", CURRENT],
  ]) {
    r = await post(initialize(asked, 7));
    assert.equal(r.status, 200, r.text);
    msg = JSON.parse(r.text);
    assert.equal(msg.id, 7);
    assert.equal(msg.result.protocolVersion, answered, `initialize ${asked}`);
  }

  // A notification: 202, no body.
  r = await post({ jsonrpc: "2.0", method: "notifications/initialized" });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.text, "");
  // A response (to nothing the server asked, but a response): 202 too.
  r = await post({ jsonrpc: "2.0", id: 99, result: {} });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.text, "");

  // No server-initiated stream, no sessions to delete.
  for (const method of ["GET", "DELETE"]) {
    const res = await fetch(mcpUrl, { method, headers: { Accept: "text/event-stream", ...auth } });
    await res.arrayBuffer();
    assert.equal(res.status, 405, `${method} /mcp`);
  }

  // MCP-Protocol-Version: an unknown revision is 400; a known one is fine.
  r = await post({ jsonrpc: "2.0", id: 3, method: "tools/list" }, { "MCP-Protocol-Version": "1999-01-01" });
  assert.equal(r.status, 400, r.text);
  r = await post({ jsonrpc: "2.0", id: 3, method: "tools/list" }, { "MCP-Protocol-Version": "2025-06-18" });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(
    JSON.parse(r.text)
      .result.tools.map((t) => t.name)
      .sort(),
    ALL_TOOLS,
  );

  // JSON-RPC errors.
  await rpcError([{ jsonrpc: "2.0", id: 4, method: "ping" }], -32600, [200, 400], "batch");
  await rpcError('{"jsonrpc": "2.0", "id": 5, "method": ', -32700, [200, 400], "malformed JSON");
  await rpcError({ jsonrpc: "1.0", id: 6, method: "ping" }, -32600, [200, 400], "not JSON-RPC 2.0");
  msg = await rpcError({ jsonrpc: "2.0", id: 8, method: "nope/nope" }, -32601, [200], "unknown method");
  assert.equal(msg.id, 8);
  msg = await rpcError(
    { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "nope", arguments: {} } },
    -32602,
    [200],
    "unknown tool",
  );
  assert.equal(msg.id, 9);
  msg = await rpcError({ jsonrpc: "2.0", id: 10, method: "tools/call", params: [1, 2] }, -32602, [200], "params not an object");
  assert.equal(msg.id, 10);

  // A tool failure is a result with isError, as over stdio.
  r = await post({
    jsonrpc: "2.0",
    id: 11,
    method: "tools/call",
    params: { name: "ingest_files", arguments: { collection: "sample", paths: ["/etc/passwd"] } },
  });
  assert.equal(r.status, 200, r.text);
  msg = JSON.parse(r.text);
  assert.equal(msg.id, 11);
  assert.equal(msg.result.isError, true, r.text);
  assert.match(msg.result.content[0].text, /outside/i);

  // Origin (DNS-rebinding protection): loopback origins pass; with --token
  // (as here) a foreign origin passes too, the token being what guards the
  // server (docs/MCP.md; tests/server/mcp_http_test.cc checks the 403 of a
  // server without a token).
  r = await post({ jsonrpc: "2.0", id: 2, method: "ping" }, { Origin: new URL(url).origin });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { jsonrpc: "2.0", id: 2, result: {} });
  r = await post({ jsonrpc: "2.0", id: 2, method: "ping" }, { Origin: "http://127.0.0.1:1" });
  assert.equal(r.status, 200, r.text);
  r = await post({ jsonrpc: "2.0", id: 2, method: "ping" }, { Origin: "http://evil.example" });
  assert.equal(r.status, 200, `Origin http://evil.example with the token: ${r.status} ${r.text}`);
}

clearTimeout(watchdog);
console.log("mcp_client: ok");
