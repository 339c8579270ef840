"""Collection.search: text and vector queries, batches, filters and their
parameters, k, ef, rankings, group_by, score ranges; light Hit objects."""

import pathlib

import numpy as np
import pytest

import flashembed


def test_text_search_returns_hits_best_first(notes):
    hits = notes.search("fast brown fox", k=2)
    assert len(hits) == 2
    assert isinstance(hits[0], flashembed.Hit)
    assert hits[0].id == 2 and hits[0].text == "a fast brown fox"
    assert hits[0].score >= hits[1].score
    assert hits[0].metadata == {"lang": "en", "year": 2022}
    assert hits[0].vector is None
    assert hits[0].group is None and hits[0].vector_score is None


def test_filters_with_params_and_stats(notes):
    stats = {}
    hits = notes.search("fox", k=10, filter="lang == {l}", filter_params={"l": "de"},
                        stats=stats)
    assert [h.id for h in hits] == ["four"]
    assert stats["filter_matches"] == 1 and stats["strategy"]


def test_vector_queries_single_and_batched(db):
    coll = db.create_collection("v", encoder=None, dim=4, metric="ip", index="flat")
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    coll.add(list(range(50)), vectors=vectors)
    hits = coll.search(vectors[3], k=5, with_vector=True)
    best = int(np.argmax(vectors @ vectors[3]))
    assert hits[0].id == best
    np.testing.assert_array_equal(hits[0].vector, vectors[best])
    assert hits[0].score == pytest.approx(float(vectors[best] @ vectors[3]), rel=1e-5)
    batch = coll.search(vectors[:3], k=1)
    assert len(batch) == 3
    assert [b[0].id for b in batch] == [int(np.argmax(vectors @ q)) for q in vectors[:3]]
    assert coll.search(vectors[3].tolist(), k=1)[0].id == best


def test_text_batches_return_one_list_per_query(notes):
    batch = notes.search(["brown fox", "embeddings"], k=1)
    assert [b[0].id for b in batch] == [2, 3]


def test_ef_mode_and_range(db):
    coll = db.create_collection("v", encoder=None, dim=2, metric="l2")
    coll.add([1, 2, 3], vectors=[[0, 0], [1, 0], [5, 0]])
    hits = coll.search([0, 0], k=3, ef=50, mode="exact", min_score=-2.0)
    assert [h.id for h in hits] == [1, 2]
    assert hits[1].score == pytest.approx(-1.0)


def test_text_and_hybrid_rankings(notes):
    text_hits = notes.search(ranking="text", keywords="fox", k=3)
    assert {h.id for h in text_hits} == {1, 2}
    assert all(h.text_score is not None for h in text_hits)
    hybrid = notes.search("brown fox", ranking="hybrid", fusion="weighted", text_weight=0.7, k=2)
    assert hybrid[0].id in (1, 2)
    assert hybrid[0].vector_score is not None


def test_group_by_returns_the_best_of_each_group(notes):
    hits = notes.search("fox", k=2, group_by="lang")
    assert sorted(h.group for h in hits) == ["de", "en"]


def test_hits_hold_no_reference_to_the_database(tmp_path):
    with flashembed.open(tmp_path / "kb") as db:
        coll = db.create_collection("c")
        coll.add([1], ["hello world"], metadatas=[{"a": 1}])
        hits = coll.search("hello", with_vector=True)
    assert hits[0].metadata == {"a": 1}
    assert hits[0].vector.shape == (384,)
    assert "Hit(id=1" in repr(hits[0])


RERANKER = (pathlib.Path(__file__).resolve().parents[1] / "encoders" / "testdata" /
            "cross_encoder" / "bert_minilm_f32")


def test_reranker_reorders_the_first_stage(notes):
    """reranker="model:DIR": hits carry rerank_score (a tiny random
    cross-encoder: its order, not its meaning, is checked) beside score."""
    first = notes.search("brown fox", k=4)
    hits = notes.search("brown fox", k=2, reranker=f"model:{RERANKER}", rerank_depth=4)
    assert len(hits) == 2
    assert all(h.rerank_score is not None for h in hits)
    assert hits[0].rerank_score >= hits[1].rerank_score
    assert {h.id for h in hits} <= {h.id for h in first}
    assert first[0].rerank_score is None
    with pytest.raises(ValueError, match="rerank_depth"):
        notes.search("fox", rerank_depth=3)


def test_default_reranker_of_a_collection(db):
    coll = db.create_collection("ranked", reranker=RERANKER)
    assert coll.info().reranker == f"model:{RERANKER}"
    coll.add([1, 2], ["Berlin is a big city", "bread needs yeast"])
    assert all(h.rerank_score is not None for h in coll.search("Berlin", k=2))
    assert all(h.rerank_score is None for h in coll.search("Berlin", k=2, reranker="none"))
