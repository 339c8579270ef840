"""flashembed: an embedded vector database with built-in text encoders.

::

    import flashembed

    with flashembed.open("./kb") as db:
        notes = db.get_or_create_collection("notes")  # hashing encoder, cosine, HNSW
        notes.add([1, 2], ["the quick brown fox", "a lazy dog"],
                  metadatas=[{"lang": "en"}, {"lang": "en"}])
        for hit in notes.search("fast fox", k=5, filter='lang == "en"'):
            print(hit.id, hit.score, hit.text, hit.metadata)

Everything runs in-process (no server) and nothing is downloaded. Database
and Collection are safe to use from many threads, and every call that
encodes, searches, writes or reads files releases the GIL, so searches from
several Python threads run in parallel. Errors are :class:`Error`
subclasses named after the library's status codes (:mod:`flashembed.errors`).
:mod:`flashembed.chroma` is a Chroma-compatible client
(``from flashembed import chroma as chromadb``).
"""

from __future__ import annotations

from . import errors
from .errors import *  # noqa: F401,F403 - Error and one class per status code
from ._native import (
    Collection,
    CollectionInfo,
    Database,
    DocumentHit,
    Hit,
    IngestProgress,
    IngestSummary,
    Passage,
    PutDocumentResult,
    Record,
    TextModel,
    open,
)

__version__ = "0.1.0"

# `from flashembed import *` leaves out open and IOError, which would hide
# the builtins of the same names; use flashembed.open and flashembed.IOError.
__all__ = [
    "Database",
    "Collection",
    "CollectionInfo",
    "Record",
    "Hit",
    "DocumentHit",
    "Passage",
    "PutDocumentResult",
    "IngestProgress",
    "IngestSummary",
    "TextModel",
] + [name for name in errors.__all__ if name != "IOError"]
