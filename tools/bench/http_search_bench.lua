-- wrk script: POST a Milvus search (one random dim-128 query vector per
-- request, from a fixed pool of 256) to a running `flashembed serve` whose
-- collection "bench" holds dim-128 vectors. Used for the wrk row in
-- docs/BENCHMARKS.md ("### Server"):
--   wrk -t1 -c8 -d20s -s tools/bench/http_search_bench.lua --latency http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v2/vectordb/entities/search"
wrk.headers["Content-Type"] = "application/json"

local bodies = {}
math.randomseed(7)
for i = 1, 256 do
  local v = {}
  for j = 1, 128 do v[j] = string.format("%.4f", math.random() * 2 - 1) end
  bodies[i] = '{"collectionName":"bench","limit":10,"data":[[' .. table.concat(v, ",") .. ']]}'
end

local n = 0
request = function()
  n = n % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
