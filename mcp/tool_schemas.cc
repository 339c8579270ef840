// The tools' descriptions for tools/list: names, titles, what they do (read
// by the model choosing a tool), input and output JSON Schemas, annotations.
#include "mcp/tools.h"

namespace flashembed::mcp {
namespace {

// Schema fragments used by several tools.
Json IdSchema() { return {{"type", Json::array({"string", "integer"})}}; }

Json CollectionArg(const char* what) {
  return {{"type", "string"}, {"description", what}, {"minLength", 1}, {"maxLength", 255}};
}

Json Object(Json properties, Json required) {
  return {{"type", "object"},
          {"properties", std::move(properties)},
          {"required", std::move(required)},
          {"additionalProperties", false}};
}

Json Array(Json items) { return {{"type", "array"}, {"items", std::move(items)}}; }

Json Annotations(const char* title, bool read_only, bool destructive, bool idempotent) {
  Json a = {{"title", title}, {"readOnlyHint", read_only}, {"openWorldHint", false}};
  if (!read_only) {
    a["destructiveHint"] = destructive;
    a["idempotentHint"] = idempotent;
  }
  return a;
}

Json Tool(const char* name, const char* title, const char* description, Json input, Json output,
          Json annotations) {
  return {{"name", name},
          {"title", title},
          {"description", description},
          {"inputSchema", std::move(input)},
          {"outputSchema", std::move(output)},
          {"annotations", std::move(annotations)}};
}

Json ListCollectionsTool() {
  Json info = Object({{"name", {{"type", "string"}}},
                      {"count", {{"type", "integer"}}},
                      {"documents", {{"type", "integer"}}},
                      {"dim", {{"type", "integer"}}},
                      {"metric", {{"type", "string"}}},
                      {"encoder", {{"type", "string"}}},
                      {"text_index", {{"type", "boolean"}}},
                      {"embeds_images", {{"type", "boolean"}}},
                      {"disk_bytes", {{"type", "integer"}}}},
                     {"name", "count", "documents", "dim", "metric", "encoder", "text_index",
                      "embeds_images", "disk_bytes"});
  return Tool("list_collections", "List collections",
              "Lists the collections of the database: records held (count, chunks of long "
              "documents included), long documents, vector dimension, metric, encoder, whether "
              "a full-text (BM25) index is kept, and disk use.",
              Object(Json::object(), Json::array()),
              Object({{"collections", Array(std::move(info))}}, {"collections"}),
              Annotations("List collections", true, false, true));
}

Json SearchTool() {
  Json neighbour = Object({{"ordinal", {{"type", "integer"}}},
                           {"begin", {{"type", "integer"}}},
                           {"end", {{"type", "integer"}}},
                           {"text", {{"type", "string"}}}},
                          {"ordinal", "begin", "end", "text"});
  Json passage = Object({{"ordinal", {{"type", "integer"}}},
                         {"begin", {{"type", "integer"}}},
                         {"end", {{"type", "integer"}}},
                         {"score", {{"type", "number"}}},
                         {"text", {{"type", "string"}}},
                         {"before", Array(neighbour)},
                         {"after", Array(neighbour)}},
                        {"ordinal", "begin", "end", "score", "text"});
  Json hit = Object({{"id", IdSchema()},
                     {"score", {{"type", "number"}}},
                     {"vector_score", {{"type", "number"}}},
                     {"text_score", {{"type", "number"}}},
                     {"text", {{"type", "string"}}},
                     {"metadata", {{"type", "object"}}},
                     {"title", {{"type", "string"}}},
                     {"source", {{"type", "string"}}},
                     {"passages", Array(std::move(passage))}},
                    {"id", "score", "metadata"});
  Json input = Object(
      {{"collection", CollectionArg("The collection to search.")},
       {"query", {{"type", "string"}, {"description", "What to look for, in words."}}},
       {"k",
        {{"type", "integer"},
         {"minimum", 1},
         {"maximum", 1000},
         {"default", 10},
         {"description", "Hits wanted."}}},
       {"filter",
        {{"type", "string"},
         {"description",
          "A Milvus filter expression over the metadata and id, e.g. `topic == \"physics\" and "
          "year > 2020`, `id in [\"a\", \"b\"]`, `doc[\"source\"] like \"%.md\"`."}}},
       {"documents",
        {{"type", "boolean"},
         {"description",
          "Hits are long documents with their best passages (default when the collection "
          "holds long documents), or single records."}}},
       {"ranking",
        {{"type", "string"},
         {"enum", {"auto", "vector", "text", "hybrid"}},
         {"default", "auto"},
         {"description",
          "vector: embedding similarity; text: BM25 keywords; hybrid: both fused; auto: hybrid "
          "for documents when the collection keeps a text index, else vector."}}},
       {"passages",
        {{"type", "integer"},
         {"minimum", 1},
         {"maximum", 64},
         {"default", 1},
         {"description", "Best passages per document (documents only)."}}},
       {"neighbors",
        {{"type", "integer"},
         {"minimum", 0},
         {"maximum", 8},
         {"default", 0},
         {"description", "Chunks of context before and after each passage (documents only)."}}}},
      {"collection", "query"});
  return Tool("search", "Search",
              "Semantic search of a collection: the records, or the long documents with their "
              "best passages, closest to the query. Optionally filtered by metadata.",
              std::move(input),
              Object({{"collection", {{"type", "string"}}},
                      {"documents", {{"type", "boolean"}}},
                      {"hits", Array(std::move(hit))}},
                     {"collection", "documents", "hits"}),
              Annotations("Search", true, false, true));
}

Json AddTextsTool() {
  Json record = Object(
      {{"text", {{"type", "string"}, {"description", "The text to store and embed."}}},
       {"id",
        {{"type", Json::array({"string", "integer"})},
         {"description", "Its id; a new UUID when left out."}}},
       {"metadata",
        {{"type", "object"}, {"description", "JSON object to filter on, e.g. {\"topic\": \"x\"}."}}}},
      {"text"});
  Json input = Object(
      {{"collection",
        CollectionArg("The collection to write to (created when missing: [A-Za-z0-9_-]).")},
       {"records", {{"type", "array"}, {"items", record}, {"minItems", 1}, {"maxItems", 1000}}},
       {"upsert",
        {{"type", "boolean"},
         {"default", false},
         {"description", "Replace records whose id is already stored (else that is an error)."}}}},
      {"collection", "records"});
  return Tool("add_texts", "Add texts",
              "Stores short texts (notes, facts, memories) as records of a collection, embedded "
              "for search, with optional metadata. All are written or none. Returns their ids.",
              std::move(input),
              Object({{"collection", {{"type", "string"}}},
                      {"created", {{"type", "boolean"}}},
                      {"ids", Array(IdSchema())}},
                     {"collection", "created", "ids"}),
              Annotations("Add texts", false, false, false));
}

Json IngestFilesTool() {
  Json strings = {{"type", "array"}, {"items", {{"type", "string"}}}};
  Json paths = strings;
  paths["minItems"] = 1;
  paths["maxItems"] = 1000;
  paths["description"] =
      "Files or folders (read recursively) under the server's allowed roots; relative paths are "
      "looked up in each root.";
  Json include = strings;
  include["description"] = "Globs of the files to read (default: every file), e.g. \"*.md\".";
  Json exclude = strings;
  exclude["description"] = "Globs of files and folders to leave out.";
  Json error = Object(
      {{"id", {{"type", "string"}}}, {"source", {{"type", "string"}}}, {"error", {{"type", "string"}}}},
      {"id", "source", "error"});
  Json output = Object({{"collection", {{"type", "string"}}},
                        {"created", {{"type", "boolean"}}},
                        {"files", {{"type", "integer"}}},
                        {"added", {{"type", "integer"}}},
                        {"replaced", {{"type", "integer"}}},
                        {"unchanged", {{"type", "integer"}}},
                        {"failed", {{"type", "integer"}}},
                        {"chunks", {{"type", "integer"}}},
                        {"errors", Array(std::move(error))}},
                       {"collection", "created", "files", "added", "replaced", "unchanged",
                        "failed", "chunks", "errors"});
  return Tool("ingest_files", "Ingest files",
              "Reads text, Markdown, HTML, PDF and JSON Lines files into a collection as long "
              "documents, cut into passages and embedded for search. Files already stored "
              "unchanged are skipped. Only files under the server's allowed roots can be read.",
              Object({{"collection", CollectionArg("The collection to write to (created when "
                                                   "missing).")},
                      {"paths", std::move(paths)},
                      {"include", std::move(include)},
                      {"exclude", std::move(exclude)}},
                     {"collection", "paths"}),
              std::move(output), Annotations("Ingest files", false, false, true));
}

Json GetTool() {
  Json record = Object(
      {{"id", IdSchema()}, {"text", {{"type", "string"}}}, {"metadata", {{"type", "object"}}}},
      {"id", "text", "metadata"});
  Json document = Object({{"id", {{"type", "string"}}},
                          {"title", {{"type", "string"}}},
                          {"source", {{"type", "string"}}},
                          {"metadata", {{"type", "object"}}},
                          {"bytes", {{"type", "integer"}}},
                          {"tokens", {{"type", "integer"}}},
                          {"chunks", {{"type", "integer"}}}},
                         {"id", "title", "source", "metadata", "bytes", "tokens", "chunks"});
  Json ids = {{"type", "array"}, {"items", IdSchema()}, {"minItems", 1}, {"maxItems", 1000}};
  return Tool("get", "Get by id",
              "Reads records (and long documents) by id. Ids found neither as a record nor as "
              "a document are listed as missing.",
              Object({{"collection", CollectionArg("The collection to read.")}, {"ids", ids}},
                     {"collection", "ids"}),
              Object({{"collection", {{"type", "string"}}},
                      {"records", Array(std::move(record))},
                      {"documents", Array(std::move(document))},
                      {"missing", Array(IdSchema())}},
                     {"collection", "records", "documents", "missing"}),
              Annotations("Get by id", true, false, true));
}

Json DeleteTool() {
  Json ids = {{"type", "array"},
              {"items", IdSchema()},
              {"minItems", 1},
              {"maxItems", 1000},
              {"description", "Ids of records or long documents to delete."}};
  return Tool("delete", "Delete",
              "Deletes records and long documents by id, or the records a filter matches "
              "(give exactly one of ids and filter).",
              Object({{"collection", CollectionArg("The collection to delete from.")},
                      {"ids", std::move(ids)},
                      {"filter",
                       {{"type", "string"},
                        {"description", "A Milvus filter expression, e.g. `topic == \"old\"`."}}}},
                     {"collection"}),
              Object({{"collection", {{"type", "string"}}},
                      {"deleted", {{"type", "integer"}}},
                      {"documents_deleted", {{"type", "integer"}}}},
                     {"collection", "deleted", "documents_deleted"}),
              Annotations("Delete", false, true, true));
}

}  // namespace

Json ToolList(bool read_only) {
  Json list = Json::array();
  list.push_back(ListCollectionsTool());
  list.push_back(SearchTool());
  if (!read_only) list.push_back(AddTextsTool());
  if (!read_only) list.push_back(IngestFilesTool());
  list.push_back(GetTool());
  if (!read_only) list.push_back(DeleteTool());
  return list;
}

}  // namespace flashembed::mcp
