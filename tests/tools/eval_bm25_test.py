#!/usr/bin/python3
"""Tests tools/eval/bm25_baseline.py: tokens, weights, and pruned search
against a brute-force scorer.

    /usr/bin/python3 tests/tools/eval_bm25_test.py     (or python3 -m pytest FILE)

CTest runs it as tools.eval_bm25.
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest

EVAL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "eval")
sys.path.insert(0, EVAL_DIR)
import bm25_baseline  # noqa: E402


def brute_force(texts, query, k1, b):
    """Every document's BM25 score, computed from the formula directly."""
    docs = [bm25_baseline.tokenize(t) for t in texts]
    average = sum(len(d) for d in docs) / len(docs)
    scores = [0.0] * len(docs)
    for term in bm25_baseline.tokenize(query):
        df = sum(1 for d in docs if term in d)
        if not df:
            continue
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(term)
            if tf:
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / average))
    return scores


class TokenizeTest(unittest.TestCase):

    def test_lowercase_word_runs(self):
        self.assertEqual(bm25_baseline.tokenize("List DIRECTORY contents, ls(1) --all_files"),
                         ["list", "directory", "contents", "ls", "1", "all_files"])
        self.assertEqual(bm25_baseline.tokenize("Ärger über Straße"), ["ärger", "über", "straße"])

    def test_han_runs_give_characters_and_bigrams(self):
        self.assertEqual(bm25_baseline.tokenize("列出目录"),
                         ["列", "出", "目", "录", "列出", "出目", "目录"])
        self.assertEqual(bm25_baseline.tokenize("ls 列出目录内容。文件"),
                         ["ls", "列", "出", "目", "录", "内", "容",
                          "列出", "出目", "目录", "录内", "内容", "文", "件", "文件"])

    def test_latin_glued_to_han_is_split_off(self):
        self.assertEqual(bm25_baseline.tokenize("用SSH登录"), ["用", "ssh", "登", "录", "登录"])

    def test_kana(self):
        self.assertEqual(bm25_baseline.tokenize("ファイル"),
                         ["フ", "ァ", "イ", "ル", "ファ", "ァイ", "イル"])


class SearchTest(unittest.TestCase):

    def test_weights_follow_the_formula(self):
        texts = ["apple banana", "apple apple cherry date", "cherry"]
        index = bm25_baseline.Bm25Index(texts, k1=1.2, b=0.75)
        expected = brute_force(texts, "apple", 1.2, 0.75)
        self.assertEqual(list(index.postings["apple"][0]), [0, 1])
        for d, w in zip(index.postings["apple"][0], index.weights("apple")):
            self.assertAlmostEqual(w, expected[d])

    def test_ties_go_by_document_id(self):
        texts = ["alpha", "beta", "alpha", "alpha"]
        ids = ["d3", "d1", "d2", "d0"]
        index = bm25_baseline.Bm25Index(texts)
        self.assertEqual([ids[d] for d in index.search("alpha", 10, ids.__getitem__)],
                         ["d0", "d2", "d3"])

    def test_unknown_terms_find_nothing(self):
        index = bm25_baseline.Bm25Index(["alpha beta"])
        self.assertEqual(index.search("gamma", 10, str), [])
        self.assertEqual(index.search("", 10, str), [])

    def test_pruned_search_equals_brute_force(self):
        rng = random.Random(7)
        # A Zipf-like vocabulary: frequent words everywhere, rare words in a few
        # documents, so the rare-first pruning kicks in.
        vocabulary = ["w%d" % i for i in range(300)]
        weights = [1 / (i + 1) for i in range(300)]
        texts = [" ".join(rng.choices(vocabulary, weights, k=rng.randint(5, 120)))
                 for _ in range(400)]
        index = bm25_baseline.Bm25Index(texts)
        for _ in range(200):
            query = " ".join(rng.choices(vocabulary, weights, k=rng.randint(1, 8)))
            depth = rng.choice([1, 3, 10])
            scores = brute_force(texts, query, 0.9, 0.4)
            found = index.search(query, depth, lambda d: d)
            expected = sorted((d for d in range(len(texts)) if scores[d] > 0),
                              key=lambda d: (-scores[d], d))[:depth]
            # Equal up to rounding: compare scores, then the documents where
            # scores differ clearly.
            self.assertEqual(len(found), len(expected), query)
            for got, want in zip(found, expected):
                self.assertAlmostEqual(scores[got], scores[want], places=9, msg=query)


class CommandTest(unittest.TestCase):

    def test_scores_a_small_set(self):
        with tempfile.TemporaryDirectory() as data:
            os.mkdir(os.path.join(data, "qrels"))
            corpus = [("ls.1", "ls(1)", "list information about the files in a directory"),
                      ("cp.1", "cp(1)", "copy files and directories to a destination"),
                      ("rm.1", "rm(1)", "remove files or directories from the disk")]
            with open(os.path.join(data, "corpus.jsonl"), "w", encoding="utf-8") as f:
                for doc_id, title, text in corpus:
                    f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
            with open(os.path.join(data, "queries.jsonl"), "w", encoding="utf-8") as f:
                f.write(json.dumps({"_id": "q:ls.1", "text": "list directory contents"}) + "\n")
                f.write(json.dumps({"_id": "q:rm.1", "text": "delete files"}) + "\n")
            with open(os.path.join(data, "qrels", "test.tsv"), "w", encoding="utf-8") as f:
                f.write("query-id\tcorpus-id\tscore\nq:ls.1\tls.1\t1\nq:rm.1\trm.1\t1\n")
            done = subprocess.run([sys.executable, os.path.join(EVAL_DIR, "bm25_baseline.py"),
                                   "--data", data, "--json"], stdout=subprocess.PIPE, check=True)
            result = json.loads(done.stdout)
            self.assertEqual(result["queries"], 2)
            self.assertEqual(result["documents"], 3)
            self.assertEqual(result["metrics"]["recall@10"], 1.0)
            # "delete files" matches only "files", once in each page: cp.1
            # and rm.1 (9 tokens with the title) tie ahead of ls.1 (10), cp.1
            # first by id, so rm.1 is second: MRR = (1 + 1/2) / 2.
            self.assertEqual(result["metrics"]["mrr@10"], 0.75)
            missing = subprocess.run([sys.executable, os.path.join(EVAL_DIR, "bm25_baseline.py"),
                                      "--data", data, "--split", "dev"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(missing.returncode, 1)
            self.assertIn(b"dev.tsv", missing.stderr)


if __name__ == "__main__":
    unittest.main()
