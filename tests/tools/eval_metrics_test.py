#!/usr/bin/python3
"""Tests tools/eval/metrics.py on hand-computed cases.

    /usr/bin/python3 tests/tools/eval_metrics_test.py     (or python3 -m pytest FILE)

CTest runs it as tools.eval_metrics.
"""
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                                "eval"))
import metrics  # noqa: E402


class RankTest(unittest.TestCase):

    def test_orders_by_score_then_doc_id(self):
        self.assertEqual(metrics.rank({"b": 1.0, "a": 1.0, "c": 2.0, "d": 0.5}),
                         ["c", "a", "b", "d"])

    def test_tied_scores_decide_the_reciprocal_rank(self):
        # "a" and "b" tie behind "c"; ties go by doc id, so "b" is third.
        run = {"q": {"b": 1.0, "a": 1.0, "c": 2.0}}
        self.assertAlmostEqual(metrics.evaluate(run, {"q": {"b": 1}})["mrr@10"], 1 / 3)
        self.assertAlmostEqual(metrics.evaluate(run, {"q": {"a": 1}})["mrr@10"], 1 / 2)


class QueryMetricsTest(unittest.TestCase):

    def test_one_relevant_at_rank_three(self):
        ranked = ["x", "y", "a", "z"]
        rels = {"a": 1}
        self.assertEqual(metrics.recall_at(ranked, rels, 10), 1.0)
        self.assertEqual(metrics.recall_at(ranked, rels, 2), 0.0)
        self.assertAlmostEqual(metrics.mrr_at(ranked, rels), 1 / 3)
        # DCG = 1 / log2(4) = 0.5, ideal = 1 / log2(2) = 1.
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 0.5)

    def test_two_relevant_one_found(self):
        ranked = ["a", "x", "y"]
        rels = {"a": 1, "b": 1}
        self.assertEqual(metrics.recall_at(ranked, rels, 10), 0.5)
        self.assertEqual(metrics.mrr_at(ranked, rels), 1.0)
        # DCG = 1, ideal = 1 + 1 / log2(3) = 1.6309.
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 1 / (1 + 1 / math.log2(3)))
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 0.6131471927654584)

    def test_graded_relevance(self):
        ranked = ["b", "x", "a"]
        rels = {"a": 2, "b": 1}
        # DCG = 1 / log2(2) + 2 / log2(4) = 2; ideal = 2 / 1 + 1 / log2(3) = 2.6309.
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 2 / (2 + 1 / math.log2(3)))
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 0.7601875179560534)
        self.assertEqual(metrics.mrr_at(ranked, rels), 1.0)
        self.assertEqual(metrics.recall_at(ranked, rels, 10), 1.0)

    def test_equal_grades_in_the_ideal_ranking(self):
        ranked = ["a", "x", "b"]
        rels = {"a": 1, "b": 1, "c": 1}
        # DCG = 1 + 1 / log2(4) = 1.5; ideal = 1 + 1 / log2(3) + 1 / log2(4) = 2.1309.
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 1.5 / (1.5 + 1 / math.log2(3)))
        self.assertAlmostEqual(metrics.recall_at(ranked, rels, 10), 2 / 3)

    def test_perfect_ranking_scores_one(self):
        ranked = ["a", "b", "x"]
        rels = {"a": 3, "b": 1}
        self.assertAlmostEqual(metrics.ndcg_at(ranked, rels), 1.0)
        # The same documents in the wrong order score less.
        self.assertLess(metrics.ndcg_at(["b", "a"], rels), 1.0)

    def test_relevant_beyond_ten_counts_for_recall_at_larger_k_only(self):
        ranked = ["x%d" % i for i in range(10)] + ["a"]
        rels = {"a": 1}
        self.assertEqual(metrics.recall_at(ranked, rels, 10), 0.0)
        self.assertEqual(metrics.recall_at(ranked, rels, 11), 1.0)
        self.assertEqual(metrics.mrr_at(ranked, rels), 0.0)
        self.assertEqual(metrics.ndcg_at(ranked, rels), 0.0)

    def test_repeated_document_counts_once(self):
        ranked = ["x", "x", "a"]
        rels = {"a": 1}
        self.assertEqual(metrics.mrr_at(ranked, rels), 0.5)
        self.assertEqual(metrics.recall_at(ranked, rels, 2), 1.0)

    def test_zero_scores_are_not_relevant(self):
        self.assertIsNone(metrics.recall_at(["a"], {"a": 0}, 10))
        self.assertIsNone(metrics.mrr_at(["a"], {"a": 0}))
        self.assertIsNone(metrics.ndcg_at(["a"], {"a": 0}))
        self.assertIsNone(metrics.recall_at(["a"], {}, 10))
        # A zero next to a relevant document adds nothing to DCG.
        self.assertAlmostEqual(metrics.ndcg_at(["z", "a"], {"z": 0, "a": 1}), 1 / math.log2(3))


class EvaluateTest(unittest.TestCase):

    def test_means_over_queries_with_a_relevant_document(self):
        run = {
            "q1": ["a", "x"],            # found at rank 1
            "q2": ["x", "b"],            # found at rank 2
            "q3": ["c"],                 # no relevant document: left out
        }
        qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
        result = metrics.evaluate(run, qrels)
        self.assertEqual(result["queries"], 2)
        self.assertAlmostEqual(result["recall@10"], 1.0)
        self.assertAlmostEqual(result["mrr@10"], 0.75)
        self.assertAlmostEqual(result["ndcg@10"], (1 + 1 / math.log2(3)) / 2)

    def test_query_missing_from_the_run_scores_zero(self):
        result = metrics.evaluate({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
        self.assertEqual(result["queries"], 2)
        self.assertAlmostEqual(result["recall@10"], 0.5)
        self.assertAlmostEqual(result["mrr@10"], 0.5)
        self.assertAlmostEqual(result["ndcg@10"], 0.5)

    def test_run_queries_absent_from_qrels_are_ignored(self):
        result = metrics.evaluate({"q1": ["a"], "other": ["z"]}, {"q1": {"a": 1}})
        self.assertEqual(result["queries"], 1)
        self.assertEqual(result["mrr@10"], 1.0)

    def test_no_relevant_query_at_all(self):
        result = metrics.evaluate({"q": ["a"]}, {"q": {"a": 0}})
        self.assertEqual(result, {"recall@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0, "queries": 0})
        self.assertEqual(metrics.evaluate({}, {})["queries"], 0)

    def test_recall_key_follows_k(self):
        result = metrics.evaluate({"q": ["x", "a"]}, {"q": {"a": 1}}, k=1)
        self.assertEqual(list(result), ["recall@1", "mrr@10", "ndcg@10", "queries"])
        self.assertEqual(result["recall@1"], 0.0)
        self.assertEqual(result["mrr@10"], 0.5)

    def test_score_maps_and_lists_agree(self):
        qrels = {"q": {"b": 2, "c": 1}}
        by_list = metrics.evaluate({"q": ["a", "b", "c"]}, qrels)
        by_scores = metrics.evaluate({"q": {"a": 0.9, "b": 0.5, "c": 0.5}}, qrels)
        self.assertEqual(by_list, by_scores)


class ReadQrelsTest(unittest.TestCase):

    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8")
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_reads_beir_layout(self):
        path = self.write("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\t1\n\n")
        self.assertEqual(metrics.read_qrels(path), {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 1}})

    def test_refuses_malformed_lines(self):
        with self.assertRaisesRegex(ValueError, ":2: expected 3"):
            metrics.read_qrels(self.write("query-id\tcorpus-id\tscore\nq1 d1 1\n"))
        with self.assertRaisesRegex(ValueError, "not an integer"):
            metrics.read_qrels(self.write("q1\td1\tyes\n"))


if __name__ == "__main__":
    unittest.main()
