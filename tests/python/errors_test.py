"""The exception hierarchy (flashembed.errors) and failure paths: every
library error arrives as the flashembed class of its status code with the
C++ message."""

import numpy as np
import pytest

import flashembed
from flashembed import errors


def test_every_class_derives_from_error_and_names_its_code():
    for name in errors.__all__:
        cls = getattr(flashembed, name)
        assert issubclass(cls, flashembed.Error)
    assert issubclass(flashembed.InvalidArgument, ValueError)
    assert issubclass(flashembed.NotFound, LookupError)
    assert issubclass(flashembed.IOError, OSError)
    assert flashembed.NotFound.code == "not_found"


def test_a_bad_filter_is_invalid_argument_with_its_position(notes):
    with pytest.raises(flashembed.InvalidArgument, match="column") as raised:
        notes.search("fox", filter="lang ==")
    assert raised.value.code == "invalid_argument"
    with pytest.raises(flashembed.InvalidArgument):
        notes.find('lang == {x}', filter_params={"y": 1})
    with pytest.raises(flashembed.InvalidArgument):
        notes.delete_where("")


def test_wrong_dim_names_both_sizes(db):
    coll = db.create_collection("v", encoder=None, dim=4)
    with pytest.raises(flashembed.InvalidArgument, match="4") as raised:
        coll.add([1], vectors=np.ones((1, 3), dtype=np.float32))
    assert "3" in str(raised.value)
    with pytest.raises(flashembed.InvalidArgument):
        coll.search(np.ones(5, dtype=np.float32))
    with pytest.raises(flashembed.InvalidArgument):
        coll.search("a text on a vector-only collection")


def test_missing_collection_and_dropped_collection(db):
    with pytest.raises(flashembed.NotFound, match="nothere"):
        db.get_collection("nothere")
    with pytest.raises(flashembed.NotFound):
        db.drop_collection("nothere")
    coll = db.create_collection("gone")
    db.drop_collection("gone")
    with pytest.raises(flashembed.NotFound, match="dropped"):
        coll.count()
    with pytest.raises(flashembed.NotFound):
        coll.get(1)


def test_bad_arrays_are_refused_or_converted_once(db):
    coll = db.create_collection("v", encoder=None, dim=4)
    with pytest.raises(flashembed.InvalidArgument, match="complex"):
        coll.add([1], vectors=np.ones((1, 4), dtype=np.complex64))
    with pytest.raises(flashembed.InvalidArgument, match="dtype"):
        coll.add([1], vectors=np.array([["a", "b", "c", "d"]]))
    with pytest.raises(flashembed.InvalidArgument, match="3 dimensions"):
        coll.add([1], vectors=np.ones((1, 1, 4), dtype=np.float32))
    with pytest.raises(flashembed.InvalidArgument, match="entries for 2 ids"):
        coll.add([1, 2], vectors=np.ones((3, 4), dtype=np.float32))
    with pytest.raises(flashembed.InvalidArgument):
        coll.add([1], vectors=[[1.0, 2.0], [3.0]])  # ragged
    with pytest.raises(flashembed.InvalidArgument, match="finite|NaN|nan"):
        coll.add([1], vectors=np.full((1, 4), np.nan, dtype=np.float32))
    # Non-contiguous and float64 arrays are converted once and stored alike.
    wide = (np.arange(16, dtype=np.float64).reshape(2, 8) + 1)[:, ::2]
    assert not wide.flags["C_CONTIGUOUS"]
    coll.add([1, 2], vectors=wide)
    np.testing.assert_allclose(coll.get(2).vector, wide[1].astype(np.float32))
    strided = np.ascontiguousarray(wide, dtype=np.float32)[:, ::-1]
    hits = coll.search(strided[0], k=1)
    assert hits[0].id == 1 or hits[0].id == 2
    assert coll.count() == 2


def test_bad_ids_and_metadata(db):
    coll = db.create_collection("c")
    with pytest.raises(TypeError, match="bool"):
        coll.add([True], ["x"])
    with pytest.raises(TypeError):
        coll.add([1.5], ["x"])
    with pytest.raises(flashembed.InvalidArgument, match="twice|repeat|more than once"):
        coll.add([1, 1], ["x", "y"])
    with pytest.raises(flashembed.InvalidArgument, match="JSON"):
        coll.add([1], ["x"], metadatas=[{"bad": object()}])
    with pytest.raises(flashembed.InvalidArgument, match="entries for 1 ids"):
        coll.add([1], ["x", "y"])
    coll.add([1], ["x"])
    with pytest.raises(flashembed.AlreadyExists):
        coll.add([1], ["x"])
    assert coll.count() == 1


def test_unknown_option_values_list_the_names(notes):
    with pytest.raises(flashembed.InvalidArgument, match="rrf, weighted, normalized"):
        notes.search("fox", ranking="hybrid", fusion="max")
    with pytest.raises(flashembed.InvalidArgument, match="vector, text, hybrid, auto"):
        notes.search("fox", ranking="best")
