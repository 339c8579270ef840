"""Collection writes and reads: add / upsert / get / get_many / delete /
count / find / delete_where, long documents, scan and export."""

import numpy as np
import pytest

import flashembed


def test_add_get_and_count(notes):
    assert notes.count() == 4 and len(notes) == 4
    doc = notes.get(1)
    assert isinstance(doc, flashembed.Record)
    assert doc.id == 1 and doc.text.startswith("the quick")
    assert doc.metadata == {"lang": "en", "year": 2020}
    assert doc.vector.dtype == np.float32 and doc.vector.shape == (384,)
    assert not doc.vector.flags.writeable
    assert notes.get("four").id == "four"
    assert notes.get(99) is None
    assert notes.get("1") is None  # ids 1 and "1" differ


def test_vectors_in_and_out_as_float32_arrays(db):
    coll = db.create_collection("v", encoder=None, dim=3, metric="l2")
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    coll.add(np.array([10, 11, 12]), vectors=vectors, metadatas=[{"i": i} for i in range(3)])
    np.testing.assert_array_equal(coll.get(11).vector, vectors[1])
    got = coll.get_many([12, 99, 10], with_vector=True)
    assert [r.id for r in got] == [12, 10]
    np.testing.assert_array_equal(got[0].vector, vectors[2])
    assert coll.get_many([10])[0].vector is None
    exported = coll.export_arrays()
    assert exported["ids"] == [10, 11, 12]
    assert exported["metadatas"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    np.testing.assert_array_equal(exported["vectors"], vectors)


def test_upsert_replaces_and_delete_removes(notes):
    notes.upsert([1, 5], ["replaced text", "new text"], metadatas=[{"lang": "fr"}, None])
    assert notes.get(1).text == "replaced text"
    assert notes.get(1).metadata == {"lang": "fr"}
    assert notes.get(5).metadata == {}
    assert notes.count() == 5
    assert notes.delete([1, 5, 77]) == 2
    assert notes.delete("four") == 1
    assert notes.count() == 2


def test_find_count_and_delete_where_take_filters(notes):
    english = notes.find('lang == "en"')
    assert [r.id for r in english] == [1, 2, 3]
    assert [r.id for r in notes.find("year >= {y}", {"y": 2022})] == [2, 3]
    page = notes.find('lang == "en"', offset=1, limit=1, with_text=False)
    assert [r.id for r in page] == [2] and page[0].text == ""
    assert notes.count('lang == "en"') == 3
    assert notes.count("lang in {langs}", filter_params={"langs": ["de"]}) == 1
    assert notes.count('array_contains(tags, "db")') == 1
    assert notes.delete_where('lang == "de"') == 1
    assert notes.count() == 3


def test_metadata_accepts_numpy_scalars_and_json_text(db):
    coll = db.create_collection("c")
    coll.add([1, 2], ["a", "b"], metadatas=[{"n": np.int64(3), "x": np.float32(0.5)},
                                              '{"raw": [1, 2]}'])
    assert coll.get(1).metadata == {"n": 3, "x": 0.5}
    assert coll.get(2).metadata == {"raw": [1, 2]}


def test_writes_without_sync_are_kept(db):
    coll = db.create_collection("c")
    coll.add(list(range(100)), [f"text {i}" for i in range(100)], sync=False)
    assert coll.count() == 100


def test_long_documents_are_chunked_found_and_deleted(db):
    coll = db.create_collection("docs", text_index=True)
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(200))
    results = coll.put_documents(
        [{"id": "guide", "text": text, "title": "Guide", "source": "guide.md",
          "metadata": {"kind": "manual"}}],
        chunk_tokens=64,
    )
    assert results[0].outcome == "added" and results[0].chunks > 1
    assert coll.put_documents({"id": "guide", "text": text, "title": "Guide",
                               "source": "guide.md", "metadata": {"kind": "manual"}},
                              chunk_tokens=64)[0].outcome == "unchanged"
    assert coll.count_documents() == 1
    info = coll.get_document("guide")
    assert info["title"] == "Guide" and info["metadata"] == {"kind": "manual"}
    assert len(info["chunks"]) == results[0].chunks
    assert coll.get_document("missing") is None
    hits = coll.search_documents("topic 3", k=1, passages=2)
    assert hits[0].id == "guide" and hits[0].title == "Guide"
    assert len(hits[0].passages) == 2 and hits[0].passages[0].text
    assert coll.delete_documents(["guide"]) == 1
    assert coll.count() == 0


def test_scan_visits_every_record_and_stops_on_an_exception(notes):
    seen = []
    notes.scan(lambda batch: seen.extend(r.id for r in batch), batch=3)
    assert seen == [1, 2, 3, "four"]

    def boom(batch):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        notes.scan(boom)
