"""Database.reembed / abort_reembed: the collection switches to the new
encoder (its vectors are that encoder's, as TextModel embeds them), progress
reaches the callback, a callback's exception is raised afterwards, and the
errors map to flashembed's exceptions."""

import numpy as np
import pytest

import flashembed


def _fill(db):
    notes = db.create_collection("notes", dim=64, text_index=True)
    texts = [f"note {i} about rivers, engines and gardens number {i % 7}" for i in range(50)]
    notes.add(list(range(50)), texts)
    return notes, texts


def test_reembed_switches_the_encoder_and_keeps_the_handle(db):
    notes, texts = _fill(db)
    seen = []
    summary = db.reembed("notes", "hash", dim=96, progress=seen.append)
    assert summary["records"] == 50 and summary["documents"] == 0
    assert summary["encoder"].startswith("hash/v1;dim=96")
    assert seen and seen[0]["round"] == 1 and seen[-1]["switching"]
    info = [i for i in db.list_collections() if i.name == "notes"][0]
    assert info.dim == 96
    # The handle taken before the switch serves the new vectors.
    record = notes.get(7)
    model = flashembed.TextModel("hash", dim=96)
    expected = model.embed([texts[7]])[0]
    np.testing.assert_allclose(record.vector, expected, atol=1e-6)
    assert notes.search(texts[7], k=1)[0].id == 7


def test_reembed_errors(db):
    _fill(db)
    with pytest.raises(flashembed.NotFound):
        db.reembed("missing", "hash")
    with pytest.raises(flashembed.InvalidArgument):
        db.reembed("notes", "nope")
    with pytest.raises(flashembed.InvalidArgument, match="not enough text"):
        db.reembed("notes", "learned")
    with pytest.raises(flashembed.NotFound):
        db.abort_reembed("notes")
    with pytest.raises(TypeError):
        db.reembed("notes", "hash", progress=3)


def test_a_progress_callback_that_raises_is_raised_after_the_switch(db):
    _fill(db)

    def boom(progress):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        db.reembed("notes", "hash", dim=32, progress=boom)
    assert [i.dim for i in db.list_collections() if i.name == "notes"] == [32]
