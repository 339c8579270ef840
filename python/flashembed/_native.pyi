"""Type stubs of flashembed's native module (re-exported by ``flashembed``)."""

from __future__ import annotations

import os
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, TypedDict, Union, overload

from typing_extensions import Unpack

import numpy as np
import numpy.typing as npt

Id = Union[int, str]
Ids = Union[Id, Sequence[Id], npt.NDArray[np.integer[Any]]]
Metadata = Union[Mapping[str, Any], str, None]
Params = Union[Mapping[str, Any], str, None]
VectorLike = Union[npt.ArrayLike, Sequence[float]]
FloatArray = npt.NDArray[np.float32]
PathLike = Union[str, os.PathLike[str]]

Metric = Literal["cosine", "ip", "l2"]
IndexKind = Literal["hnsw", "flat", "ivf_flat", "ivf_sq8", "ivf_pq"]
RankingName = Literal["vector", "text", "hybrid", "auto"]
FusionName = Literal["rrf", "weighted", "normalized"]
ModeName = Literal["auto", "exact", "approximate"]

def open(
    path: PathLike,
    *,
    read_only: bool = False,
    read_only_if_unwritable: bool = False,
    create_if_missing: bool = True,
    block_cache_bytes: int = 134217728,
    text_cache_bytes: int = 67108864,
    snapshot_every_ops: int = 50000,
    exact_search_below: int = 2048,
) -> Database:
    """Opens (or creates) the database in folder ``path``.

    Only one process may open a folder for writing at a time (IOError
    otherwise); ``read_only`` opens without writing anything.
    """

class Schema(TypedDict, total=False):
    """A collection's schema: the CLI's ``create`` options (all fixed at creation)."""

    dim: int
    """Vector dimension; 0 = the encoder's default (384 for "hash"); required without encoder."""
    metric: Metric
    """"cosine" (default), "ip" or "l2"."""
    index: IndexKind
    """"hnsw" (default), "flat", "ivf_flat", "ivf_sq8" or "ivf_pq"."""
    m: int
    ef_construction: int
    ef_search: int
    nlist: int
    nprobe: int
    train_at: int
    pq_m: int
    pq_nbits: int
    encoder: Optional[str]
    """"hash" (default), "model:DIR", or None / "none" for a vector-only collection."""
    model: PathLike
    """A model folder: the same as encoder="model:DIR"."""
    text_index: bool
    """Keep a BM25 full-text index (ranking "text" and "hybrid")."""
    indexed_fields: Sequence[str]
    """Metadata keys indexed in storage for filters."""
    query_prefix: str
    document_prefix: str
    properties: Mapping[str, Any]
    """A JSON object stored with the collection for the application."""

class CollectionInfo:
    """A collection's schema and counts."""

    name: str
    dim: int
    metric: Metric
    index: IndexKind
    encoder: str
    """"hash", "model:DIR", or "" for a vector-only collection."""
    encoder_spec: str
    hnsw: dict[str, int]
    ivf: dict[str, int]
    text_index: bool
    indexed_fields: list[str]
    query_prefix: str
    document_prefix: str
    properties: Optional[dict[str, Any]]
    count: int
    """Live records (a long document's chunks count each)."""
    documents: int
    """Long documents stored (put_documents / ingest)."""
    created_unix_ms: int
    text_cache_bytes: int
    disk_bytes: int
    """Bytes of the collection's data in the database (estimated; deleted data counts until compacted)."""

class Database:
    """A flashembed folder holding collections; a context manager (closed on exit).

    Safe to use from many threads."""

    @property
    def path(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    def create_collection(
        self,
        name: str,
        **schema: Unpack[Schema],
    ) -> Collection:
        """Creates a collection with the CLI's ``create`` options.

        ``encoder``: "hash" (default), "model:DIR", or None / "none" for a
        vector-only collection (then ``dim`` is required); ``model=DIR`` is
        ``encoder="model:DIR"``. Raises AlreadyExists if the name is taken,
        InvalidArgument for a bad name or schema."""
    def get_collection(self, name: str) -> Collection:
        """The collection; NotFound if missing."""
    def get_or_create_collection(
        self,
        name: str,
        **schema: Unpack[Schema],
    ) -> Collection:
        """The collection if its schema equals this one, created if missing;
        InvalidArgument naming both values if the stored schema differs."""
    def list_collections(self) -> list[CollectionInfo]:
        """Every collection's CollectionInfo."""
    def drop_collection(self, name: str) -> None:
        """Deletes the collection and its data; NotFound if missing."""
    def reembed(
        self,
        name: str,
        encoder: str,
        *,
        dim: int = 0,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        chunk_tokens: int = 0,
        overlap_tokens: int | None = None,
        progress: Callable[[dict[str, Any]], object] | None = None,
    ) -> dict[str, Any]:
        """Embeds every record and long document again with `encoder` ("hash",
        "model:DIR", or "learned": trained on the collection's texts first) while
        other threads search and write, then switches atomically. Interrupted,
        the same call resumes; abort_reembed deletes the partial copy. Returns
        the summary (encoder, rounds, records, documents, removed, resumed,
        seconds)."""
    def abort_reembed(self, name: str) -> None:
        """Deletes the copy an interrupted re-embedding left; NotFound if none."""
    def compact(self) -> None:
        """Gives back now the disk space of deleted, replaced and dropped data."""
    def backup(self, dest: str) -> None:
        """Writes a consistent point-in-time copy to the new folder `dest` while reads and writes go on."""
    def disk_bytes(self) -> int:
        """Bytes of every file under the database folder."""
    def storage_health(self) -> None:
        """Returns if writes can succeed now; raises what stops them otherwise."""
    def close(self) -> None:
        """Snapshots every collection and closes; later calls raise Cancelled."""
    def __enter__(self) -> Database: ...
    def __exit__(self, *exc: object) -> None: ...

class Record:
    """A stored document."""

    @property
    def id(self) -> Id: ...
    @property
    def text(self) -> str: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def vector(self) -> Optional[FloatArray]:
        """A read-only float32 array, or None when not asked for."""

class Hit:
    """A search result."""

    @property
    def id(self) -> Id: ...
    @property
    def score(self) -> float:
        """Higher is better: cosine similarity, inner product or minus the squared
        L2 distance by the collection's metric; BM25 or the fused score for the
        text and hybrid rankings."""
    @property
    def text(self) -> str: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def vector(self) -> Optional[FloatArray]:
        """With with_vector=True: a read-only float32 array; else None."""
    @property
    def group(self) -> Any:
        """With group_by: the group's value; else None."""
    @property
    def vector_score(self) -> Optional[float]: ...
    @property
    def text_score(self) -> Optional[float]: ...

class Passage:
    """A chunk of a long document in a search result."""

    n: int
    begin: int
    end: int
    score: float
    text: str
    before: list[Passage]
    after: list[Passage]

class DocumentHit:
    """A long document in a search result, with its best passages."""

    @property
    def id(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def vector_score(self) -> Optional[float]: ...
    @property
    def text_score(self) -> Optional[float]: ...
    @property
    def source(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def passages(self) -> list[Passage]: ...

class PutDocumentResult:
    """What put_documents did with one document."""

    outcome: Literal["added", "replaced", "unchanged"]
    chunks: int
    chunks_encoded: int
    tokens: int

class _IngestTotals:
    # Stub-only: the counters IngestProgress and IngestSummary both have.
    documents: int
    """Documents finished (written, unchanged or failed)."""
    added: int
    replaced: int
    unchanged: int
    failed: int
    chunks: int
    chunks_encoded: int
    tokens_encoded: int
    bytes: int

class IngestProgress(_IngestTotals):
    """Progress of an ingest, given to the progress callback."""

    files_read: int
    files_total: int

class IngestSummary(_IngestTotals):
    """What an ingest did."""

    seconds: float
    encode_seconds: float
    errors: list[tuple[str, str, str]]
    """Documents refused: (id, source, "<code>: <message>")."""

class Collection:
    """A named set of documents with one schema and one index.

    Safe to use from many threads; every call that encodes, searches, writes
    or reads releases the GIL."""

    @property
    def name(self) -> str: ...
    def info(self) -> CollectionInfo: ...
    def count(self, filter: str = "", filter_params: Params = None) -> int:
        """Live records, or those a filter expression matches."""
    def __len__(self) -> int: ...
    def add(
        self,
        ids: Ids,
        texts: Optional[Sequence[str]] = None,
        *,
        vectors: Optional[VectorLike] = None,
        metadatas: Optional[Sequence[Metadata]] = None,
        sync: bool = True,
    ) -> None:
        """Inserts documents atomically (all or none). Texts without a vector are
        embedded by the collection's encoder; ``vectors`` is an n x dim array
        (float32 C-contiguous is read in place, others converted once).
        AlreadyExists for an id already stored; InvalidArgument naming the
        document for bad input."""
    def upsert(
        self,
        ids: Ids,
        texts: Optional[Sequence[str]] = None,
        *,
        vectors: Optional[VectorLike] = None,
        metadatas: Optional[Sequence[Metadata]] = None,
        sync: bool = True,
    ) -> None:
        """Like add, but documents whose id exists replace it."""
    def delete(self, ids: Ids, *, sync: bool = True) -> int:
        """Removes these ids (missing ones ignored); returns how many were removed."""
    def delete_where(self, filter: str, filter_params: Params = None, *, sync: bool = True) -> int:
        """Removes every document the filter matches, atomically; returns how many."""
    def get(self, id: Id) -> Optional[Record]:
        """The stored document with its vector, or None."""
    def get_many(self, ids: Ids, *, with_vector: bool = False) -> list[Record]:
        """The stored documents among ids, in their order (missing ones skipped)."""
    def find(
        self,
        filter: str = "",
        filter_params: Params = None,
        *,
        offset: int = 0,
        limit: int = 0,
        with_text: bool = True,
        with_metadata: bool = True,
        with_vector: bool = False,
    ) -> list[Record]:
        """The documents a filter matches, oldest write first (limit 0: all)."""
    @overload
    def search(
        self,
        query: Union[str, VectorLike, None] = None,
        k: int = 10,
        *,
        filter: str = "",
        filter_params: Params = None,
        ef: int = 0,
        nprobe: int = 0,
        mode: ModeName = "auto",
        ranking: RankingName = "vector",
        keywords: str = "",
        fusion: FusionName = "rrf",
        rrf_k: int = 60,
        text_weight: float = 0.5,
        group_by: str = "",
        group_size: int = 1,
        min_score: Optional[float] = None,
        max_score: Optional[float] = None,
        with_text: bool = True,
        with_metadata: bool = True,
        with_vector: bool = False,
        stats: Optional[dict[str, Any]] = None,
    ) -> list[Hit]:
        """The k most similar documents, best first.

        ``query``: a text (embedded by the collection's encoder), a vector, or
        a batch: a list of texts or a 2-D array of vectors, which returns a
        list of hit lists. ``filter``: a Milvus filter expression over the
        metadata (``'lang == "en" and year >= 2020'``), its ``{name}``
        templates bound by ``filter_params``. ``ef``: HNSW candidate list
        (0: the collection's). ``ranking``: "vector", "text" (BM25 over
        ``keywords`` or the query text; needs text_index) or "hybrid"
        (fused by ``fusion``). ``group_by``: the k best groups of documents
        sharing this metadata value. ``min_score`` / ``max_score``: a score
        range. ``stats``: a dict that receives how the search ran."""
    @overload
    def search(
        self,
        query: Union[Sequence[str], npt.NDArray[Any]],
        k: int = 10,
        **kwargs: Any,
    ) -> list[list[Hit]]: ...
    def search_documents(
        self,
        query: Union[str, VectorLike, None] = None,
        k: int = 10,
        *,
        passages: int = 1,
        neighbors: int = 0,
        pooled: bool = False,
        ranking: RankingName = "auto",
        keywords: str = "",
        fusion: FusionName = "normalized",
        rrf_k: int = 60,
        text_weight: float = 0.8,
        filter: str = "",
        filter_params: Params = None,
        ef: int = 0,
        nprobe: int = 0,
        mode: ModeName = "auto",
        min_score: Optional[float] = None,
        max_score: Optional[float] = None,
        with_text: bool = True,
    ) -> list[DocumentHit]:
        """The k best long documents, each with its best passages (hybrid by
        default on a collection with a text index)."""
    def put_documents(
        self,
        documents: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        *,
        chunk_tokens: int = 0,
        overlap_tokens: Optional[int] = None,
        sync: bool = True,
    ) -> list[PutDocumentResult]:
        """Stores long documents (dicts with id, text and optional source, title,
        metadata): chunked, embedded, written in one atomic batch."""
    def get_document(self, id: str, *, with_vector: bool = False) -> Optional[dict[str, Any]]:
        """A stored long document (source, title, metadata, chunks, ...), or None."""
    def delete_documents(self, ids: Union[str, Sequence[str]], *, sync: bool = True) -> int:
        """Removes long documents with their chunks; returns how many."""
    def count_documents(self) -> int:
        """Long documents stored."""
    def ingest(
        self,
        paths: Union[PathLike, Sequence[PathLike]],
        *,
        include: Optional[Sequence[str]] = None,
        exclude: Optional[Sequence[str]] = None,
        hidden: bool = False,
        format: Literal["auto", "text", "markdown", "html", "pdf", "jsonl"] = "auto",
        encoding: str = "",
        chunk_tokens: int = 0,
        overlap_tokens: Optional[int] = None,
        encode_batch: int = 32,
        write_batch: int = 16,
        progress: Union[Callable[[IngestProgress], Any], bool, None] = None,
    ) -> IngestSummary:
        """Reads files and folders (text, Markdown, HTML, PDF, JSON Lines) into
        long documents as ``flashembed ingest`` does. ``progress``: a callable
        receiving IngestProgress about every 0.1 s, or True for a tqdm bar when
        tqdm is installed; an exception it raises stops the ingest and is
        raised here."""
    def scan(
        self,
        visit: Callable[[list[Record]], Any],
        *,
        batch: int = 1024,
        with_text: bool = True,
        with_metadata: bool = True,
        with_vector: bool = True,
    ) -> None:
        """Calls visit with every record, oldest first, batch at a time, all read
        at one point in time."""
    def export_arrays(self, *, with_vector: bool = True) -> dict[str, Any]:
        """Every record: {"ids", "texts", "metadatas", "vectors" (n x dim float32)}."""
    def snapshot(self) -> None:
        """Writes a snapshot of the in-memory index."""

class TextModel:
    """A built-in text encoder on its own: TextModel("hash") or TextModel("model:DIR")."""

    def __init__(self, encoder: str = "hash", dim: int = 0) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def spec(self) -> str: ...
    def embed(self, texts: Union[str, Sequence[str]]) -> FloatArray:
        """A float32 array of len(texts) x dim."""
    def __call__(self, input: Union[str, Sequence[str]]) -> FloatArray:
        """Same as embed: usable as an embedding function."""
    def tokenize(self, text: str, max_tokens: int = 0) -> tuple[list[int], list[str]]:
        """The model's token ids and tokens; NotSupported for the hashing encoder."""
