"""Collection.ingest: files and folders through ingest/'s readers, the
progress callback, unreadable files in the summary; the GIL is released
while reading (a FIFO written by another Python thread)."""

import os
import threading

import pytest

import flashembed


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_ingest_reads_a_folder_with_progress(db, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "a.md", "# Alpha\n\nThe first document talks about foxes.\n")
    write(docs / "b.txt", "The second document talks about databases.\n")
    write(docs / "sub" / "c.html", "<html><title>Gamma</title><body><p>Third one.</p></body></html>")
    write(docs / "skip.log", "not included")
    coll = db.create_collection("docs")
    seen = []
    summary = coll.ingest(docs, include=["*.md", "*.txt", "*.html"], progress=seen.append)
    assert isinstance(summary, flashembed.IngestSummary)
    assert summary.added == 3 and summary.failed == 0 and summary.errors == []
    assert coll.count_documents() == 3
    assert seen and seen[-1].files_read == 3 and seen[-1].files_total == 3
    assert seen[-1].documents == 3
    assert coll.get_document("a.md")["title"] == "Alpha"
    again = coll.ingest([str(docs)], include=["*.md", "*.txt", "*.html"])
    assert again.unchanged == 3 and again.added == 0
    hits = coll.search_documents("databases", k=1)
    assert hits[0].id == "b.txt"


def test_unreadable_files_are_reported_and_the_rest_stored(db, tmp_path):
    write(tmp_path / "good.txt", "readable text")
    (tmp_path / "empty.txt").write_text("")
    coll = db.create_collection("docs")
    summary = coll.ingest([tmp_path / "good.txt", tmp_path / "empty.txt"])
    assert summary.added == 1 and summary.failed == 1
    assert summary.errors[0][0].endswith("empty.txt")
    assert "invalid_argument" in summary.errors[0][2]
    with pytest.raises(flashembed.NotFound):
        coll.ingest(tmp_path / "missing")


def test_an_exception_in_the_progress_callback_stops_the_ingest(db, tmp_path):
    for i in range(5):
        write(tmp_path / f"{i}.txt", f"document {i}")
    coll = db.create_collection("docs")

    def stop(progress):
        raise KeyError("stop")

    with pytest.raises(KeyError):
        coll.ingest(tmp_path, progress=stop)


def test_ingest_releases_the_gil_while_reading(db, tmp_path):
    # The ingest blocks reading a FIFO until another Python thread writes
    # it: that thread can run only if the ingest released the GIL.
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    coll = db.create_collection("docs")

    def feed():
        with open(fifo, "w", encoding="utf-8") as f:
            f.write("text written by another Python thread")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    summary = coll.ingest(fifo)
    writer.join(timeout=10)
    assert summary.added == 1
    assert coll.get_document(str(fifo))["bytes"] > 0
