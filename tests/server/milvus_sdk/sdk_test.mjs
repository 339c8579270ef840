// Drives `flashembed serve` with the official Milvus Node SDK's HttpClient
// (@zilliz/milvus2-sdk-node, pinned in package.json): create -> describe ->
// insert -> search -> query -> get -> upsert -> delete -> indexes/load
// state -> drop, asserting the results. Usage: node sdk_test.mjs URL
// (e.g. http://127.0.0.1:43121). Exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { HttpClient } from '@zilliz/milvus2-sdk-node';

const endpoint = process.argv[2];
if (!endpoint) {
  console.error('usage: node sdk_test.mjs http://HOST:PORT');
  process.exit(2);
}
const client = new HttpClient({ endpoint, token: process.env.FLASHEMBED_TOKEN });
const name = 'sdk_articles';
const dim = 4;

function ok(res, what) {
  assert.equal(res.code, 0, `${what}: ${JSON.stringify(res)}`);
  return res;
}
// Row i's vector: one-hot-ish so each row is its own nearest neighbour.
function vec(i) {
  const v = [0.01, 0.01, 0.01, 0.01];
  v[i % dim] = 1 + i / 100;
  v[(i + 1) % dim] = (i % 7) / 10;
  return v;
}

// Collections.
await client.dropCollection({ collectionName: name });  // idempotent
ok(await client.createCollection({ collectionName: name, dimension: dim }), 'create');
assert.equal((await client.hasCollection({ collectionName: name })).data.has, true);
assert.ok(ok(await client.listCollections(), 'list').data.includes(name));
const described = ok(await client.describeCollection({ collectionName: name }), 'describe');
assert.equal(described.data.collectionName, name);
assert.equal(described.data.enableDynamicField, true);
assert.deepEqual(described.data.fields.map((f) => f.name), ['id', 'vector']);
assert.equal(described.data.indexes[0].metricType, 'COSINE');
assert.match((await client.getCollectionLoadState({ collectionName: name })).data.loadState, /LoadStateLoaded/);

// Insert 100 rows with a dynamic field.
const rows = [];
for (let i = 1; i <= 100; i++) rows.push({ id: i, vector: vec(i), title: `title ${i}`, n: i });
const inserted = ok(await client.insert({ collectionName: name, data: rows }), 'insert');
assert.equal(inserted.data.insertCount, 100);
// The SDK sends Accept-Type-Allow-Int64: false, so Int64 values are strings.
assert.equal(inserted.data.insertIds[0], '1');
assert.equal(ok(await client.getCollectionStatistics({ collectionName: name }), 'stats').data.rowCount, 100);

// Search nq=1 and nq=2.
const one = ok(await client.search({ collectionName: name, data: [vec(42)], limit: 5, outputFields: ['title'] }), 'search');
assert.deepEqual(one.topks, [5]);
assert.equal(one.data.length, 5);
assert.equal(one.data[0].id, '42');
assert.equal(one.data[0].title, 'title 42');
assert.ok(one.data[0].distance > 0.999, `cosine similarity of a row with itself: ${one.data[0].distance}`);
for (let i = 1; i < one.data.length; i++) assert.ok(one.data[i - 1].distance >= one.data[i].distance);
const two = ok(await client.search({ collectionName: name, data: [vec(7), vec(70)], limit: 3, filter: 'n > 5' }), 'search nq=2');
assert.deepEqual(two.topks, [3, 3]);
assert.equal(two.data.length, 2, 'the SDK splits the flat rows by topks');
assert.equal(two.data[0][0].id, '7');
assert.equal(two.data[1][0].id, '70');

// Query: default limit 100 returns every row; filters on dynamic fields; count(*).
const all = ok(await client.query({ collectionName: name, filter: 'id > 0' }), 'query');
assert.equal(all.data.length, 100);
assert.equal(all.data[0].id, '1');
const some = ok(await client.query({ collectionName: name, filter: 'n < 4', outputFields: ['title'] }), 'query filter');
assert.deepEqual(some.data, [{ id: '1', title: 'title 1' }, { id: '2', title: 'title 2' }, { id: '3', title: 'title 3' }]);
const counted = ok(await client.query({ collectionName: name, filter: 'n >= 90', outputFields: ['count(*)'] }), 'count');
assert.equal(counted.data[0]['count(*)'], 11);

// Get (ordered by pk, missing ids omitted) and upsert.
const got = ok(await client.get({ collectionName: name, id: [3, 1, 1000], outputFields: ['title', 'vector'] }), 'get');
assert.deepEqual(got.data.map((r) => r.id), ['1', '3']);
assert.equal(got.data[0].vector.length, dim);
const upserted = ok(await client.upsert({ collectionName: name, data: [{ id: 1, vector: vec(1), title: 'new title' }] }), 'upsert');
assert.equal(upserted.data.upsertCount, 1);
const back = ok(await client.query({ collectionName: name, filter: 'id == 1', outputFields: ['title'] }), 'query upserted');
assert.equal(back.data[0].title, 'new title');
assert.equal(upserted.data.upsertIds[0], back.data[0].id);

// Delete by filter.
const deleted = ok(await client.delete({ collectionName: name, filter: 'id in [1, 2, 3]' }), 'delete');
assert.equal(deleted.data.deleteCount, 3);
assert.equal((await client.query({ collectionName: name, filter: '', outputFields: ['count(*)'] })).data[0]['count(*)'], 97);

// Errors are HTTP 200 with a Milvus code.
const missing = await client.describeCollection({ collectionName: 'no_such_collection' });
assert.equal(missing.code, 100);
const badDim = await client.search({ collectionName: name, data: [[1, 2]] });
assert.equal(badDim.code, 1801);

// Indexes and load state.
const indexes = ok(await client.listIndexes({ collectionName: name }), 'list indexes');
assert.deepEqual(indexes.data, ['vector']);
const index = ok(await client.describeIndex({ collectionName: name, indexName: 'vector' }), 'describe index');
assert.equal(index.data[0].indexName, 'vector');
assert.equal(index.data[0].indexType, 'AUTOINDEX');
ok(await client.releaseCollection({ collectionName: name }), 'release');
assert.equal((await client.getCollectionLoadState({ collectionName: name })).data.loadState, 'LoadStateNotLoad');
assert.equal((await client.query({ collectionName: name, filter: 'id > 0' })).code, 101);
ok(await client.dropIndex({ collectionName: name, indexName: 'vector' }), 'drop index');
assert.deepEqual(ok(await client.listIndexes({ collectionName: name }), 'list').data, []);
ok(await client.createIndex({ collectionName: name, indexParams: [{ fieldName: 'vector', indexName: 'vector', metricType: 'COSINE' }] }), 'create index');
ok(await client.loadCollection({ collectionName: name }), 'load');
assert.equal((await client.getCollectionLoadState({ collectionName: name })).data.loadProgress, 100);

// Drop.
ok(await client.dropCollection({ collectionName: name }), 'drop');
assert.equal((await client.hasCollection({ collectionName: name })).data.has, false);
console.log(JSON.stringify({ ok: true, sdk: '@zilliz/milvus2-sdk-node', checks: 'create..drop' }));
