"""A Chroma-compatible client over flashembed: existing Chroma code switches by
changing its import::

    from flashembed import chroma as chromadb

    client = chromadb.PersistentClient(path="./chroma")
    collection = client.get_or_create_collection("docs", metadata={"hnsw:space": "cosine"})
    collection.add(ids=["a", "b"], documents=["first text", "second text"],
                   metadatas=[{"kind": "x"}, {"kind": "y"}])
    result = collection.query(query_texts=["text"], n_results=1, where={"kind": "x"})
    result["ids"], result["distances"]       # [["a"]], [[0.1...]]

It offers the subset of Chroma's Python client that most code uses, with
Chroma's names, argument forms and result shapes, written from Chroma's
documented behaviour: ``PersistentClient``, ``Client`` / ``EphemeralClient``
(a temporary folder), collections created, fetched, listed, deleted, and on
a collection ``add``, ``upsert``, ``update``, ``get``, ``query``, ``delete``,
``count``, ``peek``, ``modify``, with ``where`` (``$eq $ne $gt $gte $lt $lte
$in $nin $and $or``), ``where_document`` (``$contains``, ``$not_contains``,
``$and``, ``$or``), ``include``, ``n_results``, ``limit`` / ``offset``.

Distances follow Chroma's convention for the collection's space
(``metadata={"hnsw:space": ...}``, default ``"l2"``): squared L2 distance,
``1 - inner product`` (``"ip"``), ``1 - cosine similarity`` (``"cosine"``).
Without an ``embedding_function`` documents and query texts are embedded by
flashembed's own encoder in-process (the hashing encoder; nothing is
downloaded); any callable taking a list of strings (Chroma's protocol), or a
``flashembed.TextModel``, may be given instead. Unsupported parts of Chroma's
API raise ``NotImplementedError`` naming them.

Storage: each Chroma collection is a flashembed collection (created at its
first write, when the dimension is known) plus a record in the catalog
collection ``chroma-catalog`` holding its name, metadata and space.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

import flashembed

__all__ = [
    "PersistentClient",
    "Client",
    "EphemeralClient",
    "HttpClient",
    "Collection",
    "ClientAPI",
]

CATALOG = "chroma-catalog"
_SPACES = {"l2": "l2", "ip": "ip", "cosine": "cosine"}
_HNSW_KEYS = {"hnsw:M": "m", "hnsw:construction_ef": "ef_construction", "hnsw:search_ef": "ef_search"}
_GET_INCLUDE = ("metadatas", "documents")
_QUERY_INCLUDE = ("metadatas", "documents", "distances")
_KNOWN_INCLUDE = {"documents", "metadatas", "embeddings", "distances"}


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(f"flashembed.chroma does not support {what}")


# ---- where / where_document -------------------------------------------------


class _FilterBuilder:
    """Translates Chroma's ``where`` into a flashembed filter expression whose
    values are bound as ``{pN}`` templates (filter_params), so no value needs
    quoting."""

    _OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

    def __init__(self) -> None:
        self.params: Dict[str, Any] = {}

    def _bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "{" + name + "}"

    @staticmethod
    def _column(key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"where keys must be non-empty strings, got {key!r}")
        return "$meta[" + json.dumps(key, ensure_ascii=False) + "]"

    def build(self, where: Mapping[str, Any]) -> str:
        if not isinstance(where, Mapping):
            raise ValueError(f"where must be a dict, got {type(where).__name__}")
        if not where:
            raise ValueError("where must not be empty")
        parts = [self._clause(key, value) for key, value in where.items()]
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def _clause(self, key: str, value: Any) -> str:
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{key} takes a non-empty list of where clauses")
            joiner = " and " if key == "$and" else " or "
            return "(" + joiner.join(self.build(item) for item in value) + ")"
        if key.startswith("$"):
            raise ValueError(f"unknown where operator {key}")
        column = self._column(key)
        if not isinstance(value, Mapping):
            return f"{column} == {self._bind(self._scalar(value))}"
        if len(value) != 1:
            raise ValueError(f"where[{key!r}] must hold exactly one operator, got {list(value)}")
        op, operand = next(iter(value.items()))
        if op in self._OPS:
            return f"{column} {self._OPS[op]} {self._bind(self._scalar(operand))}"
        if op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise ValueError(f"{op} takes a list, got {type(operand).__name__}")
            values = [self._scalar(v) for v in operand]
            return f"{column} {'in' if op == '$in' else 'not in'} {self._bind(values)}"
        if op in ("$contains", "$not_contains"):
            raise _unsupported(f"{op} in where (metadata arrays)")
        raise ValueError(f"unknown where operator {op}")

    @staticmethod
    def _scalar(value: Any) -> Any:
        if isinstance(value, (str, bool, int, float)) or value is None:
            return value
        if isinstance(value, np.generic):
            return value.item()
        raise ValueError(f"where values are str, int, float or bool, got {type(value).__name__}")


def _document_matcher(where_document: Mapping[str, Any]) -> Callable[[str], bool]:
    """A predicate over document texts for Chroma's ``where_document``."""
    if not isinstance(where_document, Mapping) or len(where_document) != 1:
        raise ValueError("where_document must be a dict with exactly one operator")
    op, operand = next(iter(where_document.items()))
    if op in ("$and", "$or"):
        if not isinstance(operand, list) or not operand:
            raise ValueError(f"{op} takes a non-empty list of where_document clauses")
        matchers = [_document_matcher(item) for item in operand]
        if op == "$and":
            return lambda text: all(m(text) for m in matchers)
        return lambda text: any(m(text) for m in matchers)
    if op in ("$contains", "$not_contains"):
        if not isinstance(operand, str):
            raise ValueError(f"{op} takes a string")
        if op == "$contains":
            return lambda text: operand in text
        return lambda text: operand not in text
    if op in ("$regex", "$not_regex"):
        raise _unsupported(f"{op} in where_document")
    raise ValueError(f"unknown where_document operator {op}")


# ---- argument forms ---------------------------------------------------------


def _as_list(value: Any, what: str) -> Optional[list]:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or isinstance(value, Mapping):
        return [value]
    return list(value)


def _as_embeddings(value: Any) -> Optional[np.ndarray]:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError("embeddings must be a list of vectors")
    return array


def _check_include(include: Sequence[str], allowed: Sequence[str]) -> List[str]:
    include = list(include)
    for item in include:
        if item in ("uris", "data"):
            raise _unsupported(f'include="{item}" (multimodal data)')
        if item not in _KNOWN_INCLUDE or item not in allowed:
            raise ValueError(f"include may hold {', '.join(allowed)}; got {item!r}")
    return include


def _chroma_metadata(meta: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    return meta or None


# ---- collections --------------------------------------------------------------


class Collection:
    """A Chroma collection backed by a flashembed collection."""

    def __init__(self, client: "ClientAPI", name: str, entry: Dict[str, Any],
                 embedding_function: Any) -> None:
        self._client = client
        self._name = name
        self._entry = entry
        self._embedding_function = embedding_function
        self._lock = threading.Lock()

    # -- properties
    @property
    def name(self) -> str:
        return self._name

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self._entry["id"])

    @property
    def metadata(self) -> Optional[Dict[str, Any]]:
        return self._entry.get("metadata")

    def __repr__(self) -> str:
        return f"Collection(name={self._name})"

    # -- the flashembed collection behind it
    def _space(self) -> str:
        return self._entry["space"]

    def _backing(self, create_dim: Optional[int] = None) -> Optional[flashembed.Collection]:
        """The flashembed collection; with create_dim, created if missing."""
        db = self._client._db
        name = self._entry["backing"]
        try:
            return db.get_collection(name)
        except flashembed.NotFound:
            if create_dim is None:
                return None
        with self._lock:
            schema: Dict[str, Any] = {"metric": self._space(), "dim": create_dim}
            if self._embedding_function is None and (create_dim == 0 or create_dim >= 8):
                # flashembed's own encoder, in-process, at the dimension of the
                # first embeddings given (384 without); it hashes into >= 8.
                schema["encoder"] = "hash"
            else:
                schema["encoder"] = None
            for chroma_key, option in _HNSW_KEYS.items():
                value = (self.metadata or {}).get(chroma_key)
                if value is not None:
                    schema[option] = int(value)
            return db.get_or_create_collection(name, **schema)

    def _embed(self, texts: List[str]) -> np.ndarray:
        vectors = self._embedding_function(texts)
        return _as_embeddings(vectors)

    def _vectors_for(self, documents: Optional[list], embeddings: Optional[np.ndarray],
                     n: int) -> Optional[np.ndarray]:
        """Embeddings given, or computed by the embedding function; None when the
        flashembed encoder is to embed the documents."""
        if embeddings is not None:
            if len(embeddings) != n:
                raise ValueError(f"got {len(embeddings)} embeddings for {n} ids")
            return embeddings
        if self._embedding_function is not None and documents is not None:
            return self._embed([str(d) for d in documents])
        return None

    # -- writes
    def _normalise(self, ids: Any, embeddings: Any, metadatas: Any, documents: Any,
                   images: Any = None, uris: Any = None) -> tuple:
        if images is not None or uris is not None:
            raise _unsupported("images and uris (multimodal data)")
        id_list = [str(i) if not isinstance(i, str) else i for i in _as_list(ids, "ids") or []]
        if not id_list:
            raise ValueError("expected ids to be a non-empty list")
        if len(set(id_list)) != len(id_list):
            seen, dups = set(), []
            for i in id_list:
                if i in seen:
                    dups.append(i)
                seen.add(i)
            raise ValueError(f"expected IDs to be unique, found duplicates of: {', '.join(dups)}")
        docs = _as_list(documents, "documents")
        metas = _as_list(metadatas, "metadatas")
        for what, values in (("documents", docs), ("metadatas", metas)):
            if values is not None and len(values) != len(id_list):
                raise ValueError(f"got {len(values)} {what} for {len(id_list)} ids")
        return id_list, _as_embeddings(embeddings), metas, docs

    def _write(self, ids: List[str], vectors: Optional[np.ndarray], metas: Optional[list],
               docs: Optional[list]) -> None:
        if vectors is None and docs is None:
            raise ValueError("you must provide embeddings or documents")
        dim = vectors.shape[1] if vectors is not None else None
        backing = self._backing(create_dim=dim if dim is not None else 0)
        texts = [("" if d is None else str(d)) for d in docs] if docs is not None else None
        backing.upsert(ids, texts, vectors=vectors,
                       metadatas=[m or {} for m in metas] if metas is not None else None)

    def add(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None,
            images: Any = None, uris: Any = None) -> None:
        """Adds records; ids already stored are left unchanged (as Chroma does)."""
        ids, embeddings, metas, docs = self._normalise(ids, embeddings, metadatas, documents,
                                                       images, uris)
        vectors = self._vectors_for(docs, embeddings, len(ids))
        backing = self._backing()
        if backing is not None:
            stored = {r.id for r in backing.get_many(ids)}
            if stored:
                keep = [i for i, id_ in enumerate(ids) if id_ not in stored]
                ids = [ids[i] for i in keep]
                vectors = vectors[keep] if vectors is not None else None
                metas = [metas[i] for i in keep] if metas is not None else None
                docs = [docs[i] for i in keep] if docs is not None else None
                if not ids:
                    return
        self._write(ids, vectors, metas, docs)

    def upsert(self, ids: Any, embeddings: Any = None, metadatas: Any = None,
               documents: Any = None, images: Any = None, uris: Any = None) -> None:
        """Adds new records and updates stored ones (as update does)."""
        ids, embeddings, metas, docs = self._normalise(ids, embeddings, metadatas, documents,
                                                       images, uris)
        self._merge(ids, embeddings, metas, docs, add_missing=True)

    def update(self, ids: Any, embeddings: Any = None, metadatas: Any = None,
               documents: Any = None, images: Any = None, uris: Any = None) -> None:
        """Updates stored records: given documents, embeddings and metadata keys
        replace theirs (a key set to None is removed); missing ids are ignored."""
        ids, embeddings, metas, docs = self._normalise(ids, embeddings, metadatas, documents,
                                                       images, uris)
        self._merge(ids, embeddings, metas, docs, add_missing=False)

    def _merge(self, ids: List[str], embeddings: Optional[np.ndarray], metas: Optional[list],
               docs: Optional[list], add_missing: bool) -> None:
        if embeddings is not None and len(embeddings) != len(ids):
            raise ValueError(f"got {len(embeddings)} embeddings for {len(ids)} ids")
        backing = self._backing()
        stored = {}
        if backing is not None:
            stored = {r.id: r for r in backing.get_many(ids, with_vector=True)}
        out_ids, out_docs, out_metas, out_vectors = [], [], [], []
        reembed_text = []
        for i, id_ in enumerate(ids):
            old = stored.get(id_)
            if old is None and not add_missing:
                continue
            doc = docs[i] if docs is not None else (old.text if old is not None else None)
            meta = dict(old.metadata) if old is not None else {}
            if metas is not None and metas[i] is not None:
                for key, value in metas[i].items():
                    if value is None:
                        meta.pop(key, None)
                    else:
                        meta[key] = value
            if embeddings is not None:
                vector = embeddings[i]
            elif old is not None and (docs is None or docs[i] == old.text):
                vector = old.vector
            else:
                vector = None  # embed the (new) document
                if doc is None:
                    raise ValueError(f"id {id_!r} needs a document or an embedding")
            out_ids.append(id_)
            out_docs.append("" if doc is None else str(doc))
            out_metas.append(meta)
            out_vectors.append(vector)
            if vector is None:
                reembed_text.append(len(out_ids) - 1)
        if not out_ids:
            return
        if reembed_text:
            if self._embedding_function is not None:
                fresh = self._embed([out_docs[i] for i in reembed_text])
                for row, i in enumerate(reembed_text):
                    out_vectors[i] = fresh[row]
            elif len(reembed_text) < len(out_ids):
                # Mixed: write the records to embed by text apart from the rest.
                keep = [i for i in range(len(out_ids)) if i not in set(reembed_text)]
                self._write([out_ids[i] for i in reembed_text], None,
                            [out_metas[i] for i in reembed_text],
                            [out_docs[i] for i in reembed_text])
                out_ids = [out_ids[i] for i in keep]
                out_docs = [out_docs[i] for i in keep]
                out_metas = [out_metas[i] for i in keep]
                out_vectors = [out_vectors[i] for i in keep]
            else:
                self._write(out_ids, None, out_metas, out_docs)
                return
        self._write(out_ids, np.stack(out_vectors).astype(np.float32), out_metas, out_docs)

    def delete(self, ids: Any = None, where: Optional[Mapping[str, Any]] = None,
               where_document: Optional[Mapping[str, Any]] = None) -> None:
        """Deletes the records with these ids and/or matching where / where_document."""
        backing = self._backing()
        if backing is None:
            return
        if ids is None and where is None and where_document is None:
            raise ValueError("delete needs ids, where or where_document")
        matched = self._matching_ids(backing, ids, where, where_document)
        if matched:
            backing.delete(matched)

    # -- reads
    def _matching_ids(self, backing: flashembed.Collection, ids: Any,
                      where: Optional[Mapping[str, Any]],
                      where_document: Optional[Mapping[str, Any]]) -> List[str]:
        expression, params = self._filter(ids, where)
        records = backing.find(expression, params, with_text=where_document is not None,
                               with_metadata=False)
        if where_document is not None:
            matches = _document_matcher(where_document)
            records = [r for r in records if matches(r.text)]
        return [r.id for r in records]

    @staticmethod
    def _filter(ids: Any, where: Optional[Mapping[str, Any]]) -> tuple:
        builder = _FilterBuilder()
        parts = []
        if where:
            parts.append(builder.build(where))
        id_list = _as_list(ids, "ids")
        if id_list is not None:
            parts.append("id in " + builder._bind([str(i) for i in id_list]))
        return " and ".join(parts), (builder.params or None)

    def get(self, ids: Any = None, where: Optional[Mapping[str, Any]] = None,
            limit: Optional[int] = None, offset: Optional[int] = None,
            where_document: Optional[Mapping[str, Any]] = None,
            include: Sequence[str] = _GET_INCLUDE) -> Dict[str, Any]:
        """Records by ids and/or filters, as Chroma's GetResult dict (flat lists)."""
        include = _check_include(include, ("documents", "metadatas", "embeddings"))
        result: Dict[str, Any] = {"ids": [], "embeddings": None, "documents": None,
                                  "metadatas": None, "uris": None, "data": None,
                                  "included": include}
        for key in include:
            result[key] = []
        backing = self._backing()
        if backing is None:
            return result
        expression, params = self._filter(ids, where)
        with_text = "documents" in include or where_document is not None
        if where_document is None:
            records = backing.find(expression, params, offset=offset or 0, limit=limit or 0,
                                   with_text=with_text, with_metadata="metadatas" in include,
                                   with_vector="embeddings" in include)
        else:
            matches = _document_matcher(where_document)
            records = [r for r in backing.find(expression, params, with_text=True,
                                               with_metadata="metadatas" in include,
                                               with_vector="embeddings" in include)
                       if matches(r.text)]
            start = offset or 0
            records = records[start:start + limit] if limit else records[start:]
        if ids is not None:
            order = {id_: i for i, id_ in enumerate(str(i) for i in _as_list(ids, "ids"))}
            records.sort(key=lambda r: order.get(r.id, len(order)))
        result["ids"] = [r.id for r in records]
        if "documents" in include:
            result["documents"] = [r.text for r in records]
        if "metadatas" in include:
            result["metadatas"] = [_chroma_metadata(r.metadata) for r in records]
        if "embeddings" in include:
            result["embeddings"] = [np.array(r.vector) for r in records]
        return result

    def peek(self, limit: int = 10) -> Dict[str, Any]:
        """The first records, with embeddings, documents and metadatas."""
        return self.get(limit=limit, include=["embeddings", "documents", "metadatas"])

    def count(self) -> int:
        """Records in the collection."""
        backing = self._backing()
        return 0 if backing is None else backing.count()

    def query(self, query_embeddings: Any = None, query_texts: Any = None,
              query_images: Any = None, query_uris: Any = None, n_results: int = 10,
              where: Optional[Mapping[str, Any]] = None,
              where_document: Optional[Mapping[str, Any]] = None,
              include: Sequence[str] = _QUERY_INCLUDE, ids: Any = None) -> Dict[str, Any]:
        """The n_results nearest records per query, as Chroma's QueryResult dict
        (lists of lists, best first; distances by the collection's space)."""
        if query_images is not None or query_uris is not None:
            raise _unsupported("query_images and query_uris (multimodal queries)")
        if (query_embeddings is None) == (query_texts is None):
            raise ValueError("give exactly one of query_embeddings and query_texts")
        include = _check_include(include, ("documents", "metadatas", "embeddings", "distances"))
        queries: Union[np.ndarray, List[str]]
        if query_texts is not None:
            texts = [str(t) for t in _as_list(query_texts, "query_texts")]
            queries = self._embed(texts) if self._embedding_function is not None else texts
        else:
            queries = _as_embeddings(query_embeddings)
        n = len(queries)
        result: Dict[str, Any] = {"ids": [[] for _ in range(n)], "embeddings": None,
                                  "documents": None, "metadatas": None, "distances": None,
                                  "uris": None, "data": None, "included": include}
        for key in include:
            result[key] = [[] for _ in range(n)]
        backing = self._backing()
        if backing is None or n == 0:
            return result
        if isinstance(queries, list) and backing.info().encoder == "":
            raise ValueError("this collection embeds no texts itself (it was created with an "
                             "embedding function, or with embeddings of fewer than 8 "
                             "dimensions): pass the embedding function to get_collection, or "
                             "query with query_embeddings")
        expression, params = self._filter(None, where)
        if where_document is not None or ids is not None:
            # The records where_document (and ids) admit, as an `id in` filter:
            # the search is then exact among them.
            allowed = self._matching_ids(backing, ids, where, where_document)
            builder = _FilterBuilder()
            expression, params = "id in " + builder._bind(allowed), builder.params
        batches = backing.search(queries, k=max(1, int(n_results)), filter=expression,
                                 filter_params=params, with_text="documents" in include,
                                 with_metadata="metadatas" in include,
                                 with_vector="embeddings" in include)
        if isinstance(queries, list) and n == 1 and not isinstance(batches[0], list):
            batches = [batches]
        space = self._space()
        for q, hits in enumerate(batches):
            result["ids"][q] = [h.id for h in hits]
            if "distances" in include:
                if space == "l2":
                    result["distances"][q] = [-h.score for h in hits]
                else:
                    result["distances"][q] = [1.0 - h.score for h in hits]
            if "documents" in include:
                result["documents"][q] = [h.text for h in hits]
            if "metadatas" in include:
                result["metadatas"][q] = [_chroma_metadata(h.metadata) for h in hits]
            if "embeddings" in include:
                result["embeddings"][q] = [np.array(h.vector) for h in hits]
        return result

    def modify(self, name: Optional[str] = None,
               metadata: Optional[Mapping[str, Any]] = None) -> None:
        """Renames the collection and/or replaces its metadata (not its space)."""
        if metadata is not None:
            space = metadata.get("hnsw:space")
            if space is not None and space != self._space():
                raise ValueError("changing the distance function of a collection once it is "
                                 "created is not supported")
        self._client._modify(self, name, None if metadata is None else dict(metadata))

    def __len__(self) -> int:
        return self.count()


# ---- clients ------------------------------------------------------------------


class ClientAPI:
    """A Chroma client over one flashembed database folder."""

    def __init__(self, path: str, _temporary: Optional[tempfile.TemporaryDirectory] = None):
        self._temporary = _temporary
        self._db = flashembed.open(path)
        self._catalog = self._db.get_or_create_collection(CATALOG, encoder=None, dim=1,
                                                          index="flat")
        self._lock = threading.RLock()

    # -- catalog
    def _entry(self, name: str) -> Optional[Dict[str, Any]]:
        record = self._catalog.get(name)
        return None if record is None else record.metadata

    def _put_entry(self, name: str, entry: Dict[str, Any]) -> None:
        self._catalog.upsert([name], vectors=np.ones((1, 1), dtype=np.float32),
                             metadatas=[entry])

    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not 3 <= len(name) <= 512:
            raise ValueError(f"collection names are 3..512 characters, got {name!r}")
        if not (name[0].isalnum() and name[-1].isalnum()) or not all(
                c.isalnum() or c in "._-" for c in name) or ".." in name:
            raise ValueError(
                f"expected collection name {name!r} to hold [a-zA-Z0-9._-], start and end "
                "with a letter or digit, and hold no two consecutive periods")

    def _collection(self, name: str, entry: Dict[str, Any], embedding_function: Any) -> Collection:
        return Collection(self, name, entry, embedding_function)

    def create_collection(self, name: str, configuration: Any = None,
                          metadata: Optional[Mapping[str, Any]] = None,
                          embedding_function: Any = None, data_loader: Any = None,
                          get_or_create: bool = False) -> Collection:
        """Creates a collection (ValueError if it exists, unless get_or_create)."""
        if configuration is not None:
            raise _unsupported("configuration= (use metadata={'hnsw:space': ...})")
        if data_loader is not None:
            raise _unsupported("data_loader (multimodal data)")
        self._check_name(name)
        with self._lock:
            entry = self._entry(name)
            if entry is not None:
                if get_or_create:
                    return self._collection(name, entry, embedding_function)
                raise ValueError(f"collection {name} already exists")
            space = (metadata or {}).get("hnsw:space", "l2")
            if space not in _SPACES:
                raise ValueError(f"hnsw:space must be l2, ip or cosine, got {space!r}")
            safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)
            entry = {"id": str(uuid.uuid4()), "space": space,
                     "metadata": dict(metadata) if metadata else None,
                     "backing": f"chroma-{safe[:200]}-{uuid.uuid4().hex[:8]}"}
            self._put_entry(name, entry)
            return self._collection(name, entry, embedding_function)

    def get_collection(self, name: str, id: Any = None, embedding_function: Any = None,
                       data_loader: Any = None) -> Collection:
        """The collection (ValueError if it does not exist, as Chroma raises)."""
        if data_loader is not None:
            raise _unsupported("data_loader (multimodal data)")
        entry = self._entry(name)
        if entry is None:
            raise ValueError(f"collection {name} does not exist")
        return self._collection(name, entry, embedding_function)

    def get_or_create_collection(self, name: str, configuration: Any = None,
                                 metadata: Optional[Mapping[str, Any]] = None,
                                 embedding_function: Any = None,
                                 data_loader: Any = None) -> Collection:
        """The collection, created if missing."""
        return self.create_collection(name, configuration, metadata, embedding_function,
                                      data_loader, get_or_create=True)

    def list_collections(self, limit: Optional[int] = None,
                         offset: Optional[int] = None) -> List[Collection]:
        """Every collection (Collection objects, as Chroma 0.5 returns)."""
        records = self._catalog.find(offset=offset or 0, limit=limit or 0)
        return [self._collection(r.id, r.metadata, None) for r in records]

    def count_collections(self) -> int:
        return self._catalog.count()

    def delete_collection(self, name: str) -> None:
        """Deletes a collection and its records (ValueError if it does not exist)."""
        with self._lock:
            entry = self._entry(name)
            if entry is None:
                raise ValueError(f"collection {name} does not exist")
            try:
                self._db.drop_collection(entry["backing"])
            except flashembed.NotFound:
                pass  # never written to
            self._catalog.delete([name])

    def _modify(self, collection: Collection, name: Optional[str],
                metadata: Optional[Dict[str, Any]]) -> None:
        with self._lock:
            entry = dict(self._entry(collection.name) or collection._entry)
            if metadata is not None:
                entry["metadata"] = metadata or None
            if name is not None and name != collection.name:
                self._check_name(name)
                if self._entry(name) is not None:
                    raise ValueError(f"collection {name} already exists")
                self._put_entry(name, entry)
                self._catalog.delete([collection.name])
                collection._name = name
            else:
                self._put_entry(collection.name, entry)
            collection._entry = entry

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch (the client is in-process: always alive)."""
        return time.time_ns()

    def get_version(self) -> str:
        return f"flashembed {flashembed.__version__}"

    def reset(self) -> bool:
        raise _unsupported("reset() (drop the collections one by one)")

    def close(self) -> None:
        """Closes the database (and removes an in-memory client's folder)."""
        self._db.close()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None


def PersistentClient(path: str = "./chroma", settings: Any = None, tenant: str = "default_tenant",
                     database: str = "default_database") -> ClientAPI:
    """A client storing its collections in folder ``path`` (a flashembed database)."""
    if tenant != "default_tenant" or database != "default_database":
        raise _unsupported("tenants and databases other than the defaults")
    return ClientAPI(str(path))


def EphemeralClient(settings: Any = None, tenant: str = "default_tenant",
                    database: str = "default_database") -> ClientAPI:
    """A client whose collections live in a temporary folder, removed on close()."""
    if tenant != "default_tenant" or database != "default_database":
        raise _unsupported("tenants and databases other than the defaults")
    folder = tempfile.TemporaryDirectory(prefix="flashembed-chroma-")
    return ClientAPI(folder.name + "/db", _temporary=folder)


def Client(settings: Any = None, tenant: str = "default_tenant",
           database: str = "default_database") -> ClientAPI:
    """Chroma's in-memory client: here a database in a temporary folder."""
    return EphemeralClient(settings, tenant, database)


def HttpClient(*args: Any, **kwargs: Any) -> ClientAPI:
    raise _unsupported("HttpClient (flashembed.chroma runs in-process; use PersistentClient)")


def AsyncHttpClient(*args: Any, **kwargs: Any) -> ClientAPI:
    raise _unsupported("AsyncHttpClient")
