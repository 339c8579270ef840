"""Fixtures of the Python package's tests (tests/python/). CTest runs each
file with PYTHONPATH=<build>/python, so `import flashembed` is the module of
the build tree (tests/python/CMakeLists.txt)."""

import pytest

import flashembed


@pytest.fixture
def db(tmp_path):
    database = flashembed.open(tmp_path / "db")
    yield database
    database.close()


@pytest.fixture
def notes(db):
    """A collection with the hashing encoder and a BM25 index, four documents."""
    coll = db.create_collection("notes", text_index=True, indexed_fields=["lang"])
    coll.add(
        [1, 2, 3, "four"],
        [
            "the quick brown fox jumps over the lazy dog",
            "a fast brown fox",
            "vector databases store embeddings",
            "der schnelle braune Fuchs",
        ],
        metadatas=[
            {"lang": "en", "year": 2020},
            {"lang": "en", "year": 2022},
            {"lang": "en", "year": 2024, "tags": ["db"]},
            {"lang": "de", "year": 2021},
        ],
    )
    return coll
