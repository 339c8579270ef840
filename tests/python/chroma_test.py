"""flashembed.chroma, driven by scripts written the way Chroma's documentation
shows its client being used (Getting Started, Usage Guide: collections,
add / query / get / update / upsert / delete, where filters, include,
distance spaces)."""

import math

import numpy as np
import pytest

from flashembed import chroma as chromadb


@pytest.fixture
def client(tmp_path):
    c = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    yield c
    c.close()


def test_getting_started(tmp_path):
    # Chroma's "Getting Started", with the import switched.
    chroma_client = chromadb.Client()
    collection = chroma_client.create_collection(name="my_collection")
    collection.add(
        documents=["This is a document about pineapple", "This is a document about oranges"],
        ids=["id1", "id2"],
    )
    results = collection.query(query_texts=["This is a query document about hawaii pineapple"],
                               n_results=2)
    assert results["ids"][0] == ["id1", "id2"]
    assert len(results["distances"][0]) == 2
    assert results["distances"][0][0] <= results["distances"][0][1]
    assert results["documents"][0][0] == "This is a document about pineapple"
    assert results["metadatas"] == [[None, None]]
    assert results["embeddings"] is None
    assert set(results["included"]) == {"metadatas", "documents", "distances"}
    chroma_client.close()


def test_usage_guide_collections(client):
    collection = client.create_collection(name="my_collection",
                                          metadata={"hnsw:space": "cosine"})
    assert collection.name == "my_collection" and collection.metadata == {"hnsw:space": "cosine"}
    assert client.get_collection(name="my_collection").id == collection.id
    assert client.get_or_create_collection(name="my_collection").count() == 0
    assert [c.name for c in client.list_collections()] == ["my_collection"]
    with pytest.raises(ValueError):
        client.create_collection(name="my_collection")
    collection.modify(name="renamed.collection", metadata={"hnsw:space": "cosine", "owner": "t"})
    assert client.get_collection("renamed.collection").metadata["owner"] == "t"
    with pytest.raises(ValueError):
        client.get_collection("my_collection")
    with pytest.raises(ValueError):
        collection.modify(metadata={"hnsw:space": "l2"})
    client.delete_collection(name="renamed.collection")
    assert client.list_collections() == []
    with pytest.raises(ValueError):
        client.get_collection(name="renamed.collection")
    assert client.heartbeat() > 0


def test_collections_persist(tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    client.create_collection("notes").add(ids=["a"], documents=["kept across opens"])
    client.close()
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    assert client.get_collection("notes").get(ids=["a"])["documents"] == ["kept across opens"]
    client.close()


def test_add_with_embeddings_metadatas_and_distances_by_space(client):
    vectors = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]
    for space in ("l2", "ip", "cosine"):
        collection = client.create_collection(name=f"vec-{space}", metadata={"hnsw:space": space})
        collection.add(
            embeddings=vectors,
            documents=["one", "two", "three"],
            metadatas=[{"chapter": "3", "verse": 16}, {"chapter": "3", "verse": 5},
                       {"chapter": "29", "verse": 11}],
            ids=["id1", "id2", "id3"],
        )
        query = [1.0, 1.0, 0.0]
        results = collection.query(query_embeddings=[query], n_results=3,
                                   include=["distances", "embeddings"])
        q = np.array(query)
        expected = {}
        for id_, v in zip(["id1", "id2", "id3"], np.array(vectors)):
            if space == "l2":
                expected[id_] = float(((q - v) ** 2).sum())
            elif space == "ip":
                expected[id_] = 1.0 - float(q @ v)
            else:
                expected[id_] = 1.0 - float(q @ v) / (np.linalg.norm(q) * np.linalg.norm(v))
        got = dict(zip(results["ids"][0], results["distances"][0]))
        for id_, distance in expected.items():
            assert math.isclose(got[id_], distance, rel_tol=1e-5, abs_tol=1e-5), (space, id_)
        assert results["ids"][0] == sorted(expected, key=expected.get)
        assert results["documents"] is None
        np.testing.assert_array_equal(
            results["embeddings"][0][results["ids"][0].index("id2")], vectors[1])


def test_where_operators(client):
    collection = client.create_collection("books")
    collection.add(
        ids=[f"b{i}" for i in range(6)],
        documents=["red apple", "green apple", "red car", "blue car", "red wine", "blue sky"],
        metadatas=[{"color": "red", "year": 2001, "price": 1.5},
                   {"color": "green", "year": 2005, "price": 2.0},
                   {"color": "red", "year": 2010, "price": 3.5},
                   {"color": "blue", "year": 2015, "price": 10.0},
                   {"color": "red", "year": 2020, "price": 8.25},
                   {"color": "blue", "year": 2022, "price": 0.5, "odd key": True}],
    )

    def ids(where=None, where_document=None):
        return collection.get(where=where, where_document=where_document)["ids"]

    assert ids({"color": "red"}) == ["b0", "b2", "b4"]
    assert ids({"color": {"$eq": "red"}}) == ["b0", "b2", "b4"]
    assert ids({"color": {"$ne": "red"}}) == ["b1", "b3", "b5"]
    assert ids({"year": {"$gt": 2010}}) == ["b3", "b4", "b5"]
    assert ids({"year": {"$gte": 2010}}) == ["b2", "b3", "b4", "b5"]
    assert ids({"price": {"$lt": 2.0}}) == ["b0", "b5"]
    assert ids({"price": {"$lte": 2.0}}) == ["b0", "b1", "b5"]
    assert ids({"color": {"$in": ["green", "blue"]}}) == ["b1", "b3", "b5"]
    assert ids({"color": {"$nin": ["green", "blue"]}}) == ["b0", "b2", "b4"]
    assert ids({"$and": [{"color": "red"}, {"year": {"$gte": 2010}}]}) == ["b2", "b4"]
    assert ids({"$or": [{"color": "green"}, {"year": {"$gt": 2020}}]}) == ["b1", "b5"]
    assert ids({"odd key": True}) == ["b5"]
    assert ids(where_document={"$contains": "apple"}) == ["b0", "b1"]
    assert ids(where_document={"$not_contains": "red"}) == ["b1", "b3", "b5"]
    assert ids({"color": "red"}, {"$or": [{"$contains": "car"}, {"$contains": "wine"}]}) == [
        "b2", "b4"]
    result = collection.query(query_texts=["red apple"], n_results=5,
                              where={"color": "red"}, where_document={"$contains": "e"})
    assert result["ids"][0][0] == "b0" and set(result["ids"][0]) <= {"b0", "b2", "b4"}
    page = collection.get(where={"color": "red"}, limit=2, offset=1, include=["metadatas"])
    assert page["ids"] == ["b2", "b4"] and page["documents"] is None
    assert page["metadatas"][0]["year"] == 2010
    with pytest.raises(ValueError):
        collection.get(where={"color": {"$like": "r%"}})
    with pytest.raises(NotImplementedError, match=r"\$regex"):
        collection.get(where_document={"$regex": "a.*"})


def test_update_upsert_delete_peek_count(client):
    collection = client.get_or_create_collection("notes")
    collection.add(ids=["a", "b"], documents=["alpha text", "beta text"],
                   metadatas=[{"k": 1, "x": "keep"}, {"k": 2}])
    collection.add(ids=["a"], documents=["ignored: id exists"])
    assert collection.get(ids=["a"])["documents"] == ["alpha text"]
    collection.update(ids=["a", "zzz"], metadatas=[{"k": 10, "x": None}, {"k": 0}])
    got = collection.get(ids=["a"], include=["metadatas", "documents", "embeddings"])
    assert got["metadatas"] == [{"k": 10}] and got["documents"] == ["alpha text"]
    assert collection.count() == 2  # update does not add "zzz"
    collection.update(ids=["b"], documents=["beta changed"])
    assert collection.get(ids=["b"])["documents"] == ["beta changed"]
    assert collection.query(query_texts=["beta changed"], n_results=1)["ids"] == [["b"]]
    collection.upsert(ids=["b", "c"], documents=["beta again", "gamma"],
                      metadatas=[{"k": 3}, {"k": 4}])
    assert collection.count() == 3
    assert collection.get(ids=["c", "b"])["ids"] == ["c", "b"]
    peek = collection.peek()
    assert peek["ids"] == ["a", "b", "c"] and len(peek["embeddings"]) == 3
    collection.delete(ids=["a"])
    collection.delete(where={"k": 4})
    assert collection.get()["ids"] == ["b"]
    collection.delete(where_document={"$contains": "beta"})
    assert collection.count() == 0


def test_embedding_function_and_errors(client):
    class MyEmbeddingFunction:
        """Chroma's EmbeddingFunction protocol: __call__(self, input) -> embeddings."""

        def __call__(self, input):
            return [[float(len(text)), float(text.count("a")), 1.0] for text in input]

    ef = MyEmbeddingFunction()
    collection = client.create_collection("custom", embedding_function=ef)
    collection.add(ids=["s", "l"], documents=["aa", "a much longer text"])
    result = collection.query(query_texts=["ab"], n_results=1, include=["distances"])
    assert result["ids"] == [["s"]]
    assert result["distances"][0][0] == pytest.approx(1.0)  # l2: (2-2)^2 + (2-1)^2 + 0
    again = client.get_collection("custom", embedding_function=ef)
    assert again.count() == 2
    with pytest.raises(ValueError, match="embedding function"):
        client.get_collection("custom").query(query_texts=["ab"])
    with pytest.raises(ValueError, match="unique"):
        collection.add(ids=["x", "x"], documents=["1", "2"])
    with pytest.raises(NotImplementedError, match="uris"):
        collection.get(include=["uris"])
    with pytest.raises(NotImplementedError, match="HttpClient"):
        chromadb.HttpClient(host="localhost", port=8000)
    with pytest.raises(NotImplementedError, match="images"):
        collection.add(ids=["i"], images=[np.zeros((2, 2, 3))])
    with pytest.raises(ValueError):
        client.create_collection("a")  # names are 3 characters at least


def test_flashembed_encoder_as_embedding_function(client):
    import flashembed

    model = flashembed.TextModel("hash", dim=64)
    collection = client.create_collection("encoded", embedding_function=model,
                                          metadata={"hnsw:space": "cosine"})
    collection.add(ids=["1", "2"], documents=["brown fox", "blue whale"])
    result = collection.query(query_texts=["fox"], n_results=1, include=["embeddings"])
    assert result["ids"] == [["1"]] and result["embeddings"][0][0].shape == (64,)
