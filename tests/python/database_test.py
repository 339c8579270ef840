"""flashembed.open and Database: collections created with the CLI's schema
options, fetched, listed, dropped; closing; reopening keeps data."""

import pathlib

import pytest

import flashembed


def test_open_creates_a_folder_and_closes_as_a_context_manager(tmp_path):
    with flashembed.open(tmp_path / "kb") as db:
        assert isinstance(db, flashembed.Database)
        assert db.path == str(tmp_path / "kb")
        assert not db.read_only
        db.create_collection("notes")
    assert (tmp_path / "kb").is_dir()


def test_collections_are_created_listed_fetched_and_dropped(db):
    db.create_collection("a")
    db.create_collection("b", encoder=None, dim=3, metric="l2", index="flat")
    infos = {info.name: info for info in db.list_collections()}
    assert sorted(infos) == ["a", "b"]
    assert infos["a"].encoder == "hash" and infos["a"].dim == 384
    assert infos["a"].metric == "cosine" and infos["a"].index == "hnsw"
    assert infos["b"].encoder == "" and infos["b"].dim == 3 and infos["b"].metric == "l2"
    assert db.get_collection("a").name == "a"
    db.drop_collection("a")
    assert [i.name for i in db.list_collections()] == ["b"]
    with pytest.raises(flashembed.NotFound):
        db.get_collection("a")


def test_every_schema_option_is_stored(db):
    coll = db.create_collection(
        "c",
        dim=64,
        metric="ip",
        index="hnsw",
        m=8,
        ef_construction=50,
        ef_search=20,
        text_index=True,
        indexed_fields=["lang", 'meta["a"]'],
        query_prefix="query: ",
        document_prefix="passage: ",
        properties={"owner": "tests"},
    )
    info = coll.info()
    assert info.dim == 64 and info.metric == "ip"
    assert info.hnsw == {"m": 8, "ef_construction": 50, "ef_search": 20}
    assert info.text_index
    assert info.indexed_fields == ["lang", 'meta["a"]']
    assert info.query_prefix == "query: " and info.document_prefix == "passage: "
    assert info.properties == {"owner": "tests"}
    assert "hash" in info.encoder_spec
    ivf = db.create_collection("v", encoder="none", dim=8, index="ivf_pq", nlist=16, nprobe=4,
                               train_at=256, pq_m=4, pq_nbits=6)
    assert ivf.info().ivf == {"nlist": 16, "nprobe": 4, "train_at": 256, "pq_m": 4,
                              "pq_nbits": 6}


def test_get_or_create_returns_the_existing_collection_or_names_the_difference(db):
    first = db.get_or_create_collection("c", metric="l2")
    first.add([1], ["hello"])
    again = db.get_or_create_collection("c", metric="l2")
    assert again.count() == 1
    with pytest.raises(flashembed.InvalidArgument, match="metric"):
        db.get_or_create_collection("c", metric="cosine")


def test_create_refuses_a_taken_name_bad_names_and_unknown_options(db):
    db.create_collection("c")
    with pytest.raises(flashembed.AlreadyExists):
        db.create_collection("c")
    with pytest.raises(flashembed.InvalidArgument):
        db.create_collection("bad name!")
    with pytest.raises(flashembed.InvalidArgument, match="metric"):
        db.create_collection("d", metric="manhattan")
    with pytest.raises(TypeError, match="colour"):
        db.create_collection("d", colour="blue")
    with pytest.raises(flashembed.InvalidArgument, match="dim"):
        db.create_collection("d", encoder=None)
    with pytest.raises(flashembed.NotFound):
        db.create_collection("d", model="/nonexistent/model")


def test_data_survives_reopening(tmp_path):
    with flashembed.open(tmp_path / "kb") as db:
        db.create_collection("notes").add([1, "two"], ["alpha", "beta"])
    with flashembed.open(pathlib.Path(tmp_path / "kb")) as db:
        coll = db.get_collection("notes")
        assert coll.count() == 2
        assert coll.get("two").text == "beta"


def test_a_closed_database_raises_cancelled(tmp_path):
    db = flashembed.open(tmp_path / "kb")
    coll = db.create_collection("notes")
    db.close()
    db.close()  # idempotent
    with pytest.raises(flashembed.Cancelled):
        db.list_collections()
    with pytest.raises(flashembed.Cancelled):
        coll.add([1], ["text"])
    with pytest.raises(flashembed.Cancelled):
        coll.search("text")


def test_read_only_refuses_writes_and_a_second_writer_is_refused(tmp_path):
    with flashembed.open(tmp_path / "kb") as db:
        db.create_collection("notes").add([1], ["alpha"])
        with pytest.raises(flashembed.IOError):
            flashembed.open(tmp_path / "kb")
    with flashembed.open(tmp_path / "kb", read_only=True) as db:
        assert db.read_only
        coll = db.get_collection("notes")
        assert coll.count() == 1
        with pytest.raises(flashembed.NotSupported):
            coll.add([2], ["beta"])
    with pytest.raises(flashembed.NotFound):
        flashembed.open(tmp_path / "missing", create_if_missing=False)


def test_text_model_embeds_without_a_database():
    model = flashembed.TextModel("hash")
    rows = model.embed(["one text", "another"])
    assert rows.shape == (2, model.dim) and rows.dtype.name == "float32"
    assert model(["x"]).shape == (1, 384)
    with pytest.raises(flashembed.NotSupported):
        model.tokenize("hello")


def test_backup_compact_and_disk_bytes(db, tmp_path):
    coll = db.create_collection("notes")
    coll.add(ids=list(range(500)), texts=[f"note {i} about the sea" for i in range(500)])
    info = db.list_collections()[0]
    assert info.disk_bytes > 0
    assert db.disk_bytes() >= info.disk_bytes
    db.backup(str(tmp_path / "copy"))
    with pytest.raises(flashembed.AlreadyExists):
        db.backup(str(tmp_path / "copy"))
    coll.delete(list(range(100, 500)))
    before = db.disk_bytes()
    db.compact()
    assert db.disk_bytes() < before
    with flashembed.open(tmp_path / "copy") as copy:
        assert copy.get_collection("notes").count() == 500
    assert coll.count() == 100
