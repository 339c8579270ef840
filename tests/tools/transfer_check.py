#!/usr/bin/python3
"""Checks a `flashembed export` folder the way Milvus bulk import would read it.

    /usr/bin/python3 transfer_check.py EXPORT_DIR

collection.json must be a custom-setup collections/create body; import.json
must list every data file; NumPy files must load with numpy (no pickles) to
the dtype and shape of their field (transfer/FORMAT.md, Rows); JSON row
files must follow Milvus's strict typing of JSON rows. Prints one line "ok:
<rows> rows in <groups> groups" and exits 0, or prints what is wrong and
exits 1. Needs Debian's python3-numpy (hence /usr/bin/python3).
"""
import json
import math
import os
import sys

import numpy as np

VECTOR_INDEXES = {"HNSW", "FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "AUTOINDEX"}
NPY_DTYPES = {"Bool": "|b1", "Int8": "|i1", "Int16": "<i2", "Int32": "<i4", "Int64": "<i8",
              "Float": "<f4", "Double": "<f8"}
INT_RANGES = {"Int8": 2**7, "Int16": 2**15, "Int32": 2**31, "Int64": 2**63}


def fail(message):
    print("transfer_check: " + message)
    sys.exit(1)


def reject_constant(name):
    fail("JSON holds the non-standard constant " + name)


def check_create_body(body):
    if not isinstance(body.get("collectionName"), str) or not body["collectionName"]:
        fail("collection.json: collectionName must be a non-empty string")
    schema = body.get("schema")
    if not isinstance(schema, dict) or schema.get("autoID") is not False:
        fail("collection.json: schema.autoID must be false (ids are kept)")
    if not isinstance(schema.get("enableDynamicField"), bool):
        fail("collection.json: schema.enableDynamicField must be a boolean")
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        fail("collection.json: schema.fields must be a non-empty list")
    primaries = [f for f in fields if f.get("isPrimary")]
    vectors = [f for f in fields if f.get("dataType") == "FloatVector"]
    if len(primaries) != 1 or primaries[0]["dataType"] not in ("Int64", "VarChar"):
        fail("collection.json: needs one Int64 or VarChar primary key")
    if len(vectors) != 1 or not isinstance(vectors[0]["elementTypeParams"]["dim"], int):
        fail("collection.json: needs one FloatVector field with an integer dim")
    for f in fields:
        if not isinstance(f.get("fieldName"), str) or not isinstance(f.get("dataType"), str):
            fail("collection.json: every field needs fieldName and dataType")
        if f["dataType"] == "VarChar":
            length = f.get("elementTypeParams", {}).get("max_length")
            if not isinstance(length, int) or not 0 < length <= 65535:
                fail("collection.json: VarChar %s needs max_length in 1..65535" % f["fieldName"])
    index = body.get("indexParams")
    if not isinstance(index, list) or len(index) != 1:
        fail("collection.json: indexParams must hold the vector index")
    index = index[0]
    if index.get("fieldName") != vectors[0]["fieldName"]:
        fail("collection.json: the index must be on the vector field")
    if index.get("metricType") not in ("COSINE", "IP", "L2"):
        fail("collection.json: metricType must be COSINE, IP or L2")
    if index.get("params", {}).get("index_type") not in VECTOR_INDEXES:
        fail("collection.json: unknown index_type")
    if body.get("params", {}).get("consistencyLevel") not in (
            "Strong", "Session", "Bounded", "Eventually", "Customized"):
        fail("collection.json: params.consistencyLevel must be a Milvus level")
    return fields, schema["enableDynamicField"]


def check_value(field, value, where):
    kind = field["dataType"]
    if value is None:
        if not field.get("nullable"):
            fail("%s: field %s is null but not nullable" % (where, field["fieldName"]))
        return
    if kind in INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            fail("%s: %s %s must be a JSON integer, got %r" % (where, kind, field["fieldName"], value))
        if not -INT_RANGES[kind] <= value < INT_RANGES[kind]:
            fail("%s: %s out of range" % (where, field["fieldName"]))
    elif kind == "VarChar":
        if not isinstance(value, str):
            fail("%s: VarChar %s must be a string" % (where, field["fieldName"]))
        if len(value.encode("utf-8")) > field["elementTypeParams"]["max_length"]:
            fail("%s: %s longer than max_length" % (where, field["fieldName"]))
    elif kind == "FloatVector":
        dim = field["elementTypeParams"]["dim"]
        if not isinstance(value, list) or len(value) != dim:
            fail("%s: vector must hold %d numbers" % (where, dim))
        for x in value:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                fail("%s: vector holds %r" % (where, x))
    elif kind == "Bool":
        if not isinstance(value, bool):
            fail("%s: Bool %s must be true or false" % (where, field["fieldName"]))
    elif kind in ("Float", "Double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("%s: %s must be a number" % (where, field["fieldName"]))
    elif kind == "JSON":
        if isinstance(value, str):
            json.loads(value)
        elif not isinstance(value, dict):
            fail("%s: JSON %s must be an object or JSON text" % (where, field["fieldName"]))
    elif kind == "Array":
        if not isinstance(value, list):
            fail("%s: Array %s must be a list" % (where, field["fieldName"]))


def check_json_group(path, fields, dynamic):
    with open(path, encoding="utf-8") as f:
        data = json.load(f, parse_constant=reject_constant)
    if not isinstance(data, dict) or list(data.keys()) != ["rows"] or not isinstance(data["rows"], list):
        fail(path + ': top level must be {"rows": [...]}')
    by_name = {f["fieldName"]: f for f in fields}
    for i, row in enumerate(data["rows"], 1):
        where = "%s: row %d" % (path, i)
        for name, field in by_name.items():
            if name not in row and not field.get("nullable"):
                fail("%s: field %s missing" % (where, name))
            if name in row:
                check_value(field, row[name], where)
        for key in row:
            if key in by_name:
                continue
            if not dynamic:
                fail("%s: extra key %s without dynamic fields" % (where, key))
            if key == "$meta" and not isinstance(row[key], dict):
                fail("%s: $meta must be an object" % where)
    return len(data["rows"])


def check_numpy_group(paths, fields, dynamic):
    by_name = {f["fieldName"]: f for f in fields}
    names = {os.path.basename(p)[:-4]: p for p in paths}
    expected = set(by_name) | ({"$meta"} if dynamic else set())
    if set(names) != expected:
        fail("group %s: files %s, expected %s" % (os.path.dirname(paths[0]), sorted(names), sorted(expected)))
    rows = None
    for name, path in names.items():
        array = np.load(path, allow_pickle=False)
        if array.dtype.byteorder == ">" or np.isfortran(array) and array.ndim > 1:
            fail(path + ": must be little-endian and C-ordered")
        n = array.shape[0]
        if rows is None:
            rows = n
        elif rows != n:
            fail("%s: %d rows, other files of the group have %d" % (path, n, rows))
        field = by_name.get(name)
        kind = field["dataType"] if field else "$meta"
        if kind == "FloatVector":
            dim = field["elementTypeParams"]["dim"]
            if array.dtype != np.float32 or array.shape != (n, dim):
                fail("%s: dtype %s shape %s, expected float32 (N, %d)" % (path, array.dtype, array.shape, dim))
            if not np.isfinite(array).all():
                fail(path + ": NaN or Inf")
        elif kind in NPY_DTYPES:
            if array.dtype.str != NPY_DTYPES[kind] or array.ndim != 1:
                fail("%s: dtype %s, expected %s" % (path, array.dtype.str, NPY_DTYPES[kind]))
        else:  # VarChar, JSON, $meta: <U strings
            if array.dtype.kind != "U" or array.ndim != 1:
                fail("%s: dtype %s, expected <U" % (path, array.dtype.str))
            for i, s in enumerate(array.tolist(), 1):
                if kind == "VarChar" and len(s.encode("utf-8")) > field["elementTypeParams"]["max_length"]:
                    fail("%s: row %d longer than max_length" % (path, i))
                if kind == "$meta" and not isinstance(json.loads(s), dict):
                    fail("%s: row %d is not a JSON object" % (path, i))
                if kind == "JSON":
                    json.loads(s)
    return rows or 0


def main():
    if len(sys.argv) != 2:
        fail("usage: transfer_check.py EXPORT_DIR")
    root = sys.argv[1]
    with open(os.path.join(root, "collection.json")) as f:
        body = json.load(f)
    with open(os.path.join(root, "import.json")) as f:
        job = json.load(f)
    fields, dynamic = check_create_body(body)
    if job.get("collectionName") != body["collectionName"] or not isinstance(job.get("files"), list):
        fail("import.json: must name the collection and list the file groups")
    rows = 0
    for group in job["files"]:
        paths = [os.path.join(root, p) for p in group]
        for p in paths:
            if not os.path.isfile(p):
                fail("import.json lists a missing file " + p)
        if all(p.endswith(".json") for p in paths) and len(paths) == 1:
            rows += check_json_group(paths[0], fields, dynamic)
        elif all(p.endswith(".npy") for p in paths):
            rows += check_numpy_group(paths, fields, dynamic)
        else:
            fail("a group must be one .json file or .npy files: %s" % group)
    print("ok: %d rows in %d groups" % (rows, len(job["files"])))


if __name__ == "__main__":
    main()
