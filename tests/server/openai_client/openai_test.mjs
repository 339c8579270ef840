// The official `openai` Node client against `flashembed serve`'s
// OpenAI-compatible API: embeddings (default base64 decoding, explicit float,
// token ids, dimensions), models list / retrieve, and errors as the client's
// typed exceptions. Vectors are checked against `flashembed embed` on the same
// folder (itself checked against PyTorch in tests/encoders).
//   node openai_test.mjs http://127.0.0.1:PORT FLASHEMBED_BINARY
// The server runs with --allow-model <source>/tests/encoders/testdata/bert_text.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import OpenAI from "openai";

const [url, cli] = process.argv.slice(2);
const folders = process.env.FLASHEMBED_MODEL_FOLDERS;
assert.ok(url && cli && folders, "usage: node openai_test.mjs URL FLASHEMBED_BINARY (and FLASHEMBED_MODEL_FOLDERS)");
const model = "uncased_mean_f16";
const client = new OpenAI({ apiKey: "unused", baseURL: `${url}/v1`, maxRetries: 0 });

const texts = ["Hello, world!", "The quick brown fox jumps over the lazy dog.", "a"];

// What the CLI prints for the same texts, as float32.
const input = texts.map((t) => JSON.stringify({ text: t })).join("\n") + "\n";
const cliOut = execFileSync(cli, ["embed", "--model", `${folders}/${model}`], { input, encoding: "utf8" });
const expected = cliOut.trim().split("\n").map((l) => Float32Array.from(JSON.parse(l).vector));
assert.equal(expected.length, texts.length);

function sameVector(got, want, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.equal(Math.fround(got[i]), want[i], `${what}[${i}]`);
}

// 1. Default call: the client asks for base64 and decodes Float32Arrays.
const res = await client.embeddings.create({ model, input: texts });
assert.equal(res.object, "list");
assert.equal(res.model, model);
assert.equal(res.data.length, texts.length);
res.data.forEach((d, i) => {
  assert.equal(d.index, i);
  assert.equal(d.object, "embedding");
  sameVector(d.embedding, expected[i], `base64 ${i}`);
});
assert.ok(res.usage.prompt_tokens > texts.length, JSON.stringify(res.usage));
assert.equal(res.usage.total_tokens, res.usage.prompt_tokens);

// 2. Explicit float and a single string.
const one = await client.embeddings.create({ model, input: texts[1], encoding_format: "float" });
assert.ok(Array.isArray(one.data[0].embedding));
sameVector(one.data[0].embedding, expected[1], "float");

// 3. Token ids (the model's own vocabulary, without [CLS] / [SEP]).
const tok = execFileSync(cli, ["tokenize", "--model", `${folders}/${model}`], {
  input: JSON.stringify({ text: texts[0] }) + "\n",
  encoding: "utf8",
});
const ids = JSON.parse(tok.trim()).ids.slice(1, -1);
const byIds = await client.embeddings.create({ model, input: [ids] });
sameVector(byIds.data[0].embedding, expected[0], "token ids");
assert.equal(byIds.usage.prompt_tokens, ids.length);

// 4. dimensions: the first values, at unit length again (this folder
// normalises).
const cut = await client.embeddings.create({ model, input: texts[0], dimensions: 4 });
const head = expected[0].slice(0, 4);
const norm = Math.hypot(...head);
assert.equal(cut.data[0].embedding.length, 4);
head.forEach((x, i) => assert.ok(Math.abs(cut.data[0].embedding[i] - x / norm) < 1e-6, `dimensions 4[${i}]`));
const hash = await client.embeddings.create({ model: "hash", input: "memory for agents", dimensions: 48 });
assert.equal(hash.data[0].embedding.length, 48);

// 5. Models.
const ids_listed = [];
for await (const m of client.models.list()) {
  assert.equal(m.object, "model");
  ids_listed.push(m.id);
}
assert.ok(ids_listed.includes("hash") && ids_listed.includes(model), ids_listed.join(","));
assert.equal((await client.models.retrieve(model)).id, model);
// A folder's absolute path as the id: the client percent-encodes its slashes.
const absolute = `model:${folders}/${model}`;
const byPath = await client.embeddings.create({ model: absolute, input: texts[2] });
sameVector(byPath.data[0].embedding, expected[2], "model:DIR");

// 6. Errors arrive as the client's typed exceptions with OpenAI's fields.
await assert.rejects(client.embeddings.create({ model: "text-embedding-3-small", input: "x" }), (e) => {
  assert.ok(e instanceof OpenAI.NotFoundError, String(e));
  assert.equal(e.code, "model_not_found");
  assert.equal(e.param, "model");
  return true;
});
await assert.rejects(client.embeddings.create({ model, input: [] }), (e) => {
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.param, "input");
  assert.equal(e.type, "invalid_request_error");
  return true;
});
await assert.rejects(client.embeddings.create({ model: "model:/etc", input: "x" }), (e) => {
  assert.ok(e instanceof OpenAI.PermissionDeniedError, String(e));
  return true;
});
await assert.rejects(client.models.retrieve("nope"), OpenAI.NotFoundError);

console.log(`openai_client: ok (${ids_listed.length} models listed)`);
