#!/usr/bin/python3
"""Plain BM25 over whole documents of a BEIR-layout set: the reference number.

    bm25_baseline.py --data DIR [--split test] [--k 10] [--k1 0.9] [--b 0.4] [--json]

Ranks every document (title + text, not chunks) for each query of
DIR/qrels/SPLIT.tsv, outside flashembed, and prints recall@k, MRR@10 and
nDCG@10 (metrics.py). Defaults k1 = 0.9, b = 0.4 as Anserini's BM25 baselines
for BEIR; idf = ln(1 + (N - df + 0.5) / (df + 0.5)) as Lucene; document
lengths exact (Lucene rounds them); a query term repeated counts as often as
it occurs. Tokens: lowercase runs of word characters (\\w+, Unicode), except
that a run of Han or Kana characters gives each character and each pair of
neighbours (unigrams and bigrams), so Chinese needs no word segmenter.

Exact top-k with term-at-a-time MaxScore pruning (rare terms first; once the
terms left cannot lift an unseen document into the top k, only documents
already seen are scored), over an in-memory inverted index. Equal scores are
ordered by document id. Standard library only.
"""

import argparse
import bisect
import heapq
import json
import math
import os
import re
import sys
import time
from array import array
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics  # noqa: E402

CJK_CLASS = ("\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
             "\U00020000-\U0002fa1f")
CJK_RUN = "[" + CJK_CLASS + "]+"
HAS_CJK = re.compile("[" + CJK_CLASS + "]")
WORD = re.compile(r"\w+")
WORD_OR_CJK_RUN = re.compile(CJK_RUN + r"|[^\W" + CJK_CLASS + "]+")


def tokenize(text):
    """Lowercase \\w+ runs; a run of Han/Kana characters gives its characters
    and the bigrams of neighbouring characters instead."""
    text = text.lower()
    if not HAS_CJK.search(text):
        return WORD.findall(text)
    tokens = []
    for run in WORD_OR_CJK_RUN.findall(text):
        if HAS_CJK.match(run):
            tokens.extend(run)
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


class Bm25Index:
    """An inverted index over documents: per term, ascending document numbers
    and term frequencies (two arrays)."""

    def __init__(self, texts, k1=0.9, b=0.4):
        self.k1 = k1
        self.b = b
        self.postings = {}
        lengths = array("i")
        for number, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                entry = self.postings.get(term)
                if entry is None:
                    entry = self.postings[term] = (array("i"), array("i"))
                entry[0].append(number)
                entry[1].append(tf)
        self.size = len(lengths)
        average = sum(lengths) / self.size if self.size else 0.0
        # K_d = k1 * (1 - b + b * |d| / avgdl), the length part of each weight.
        self.length_norm = [k1 * (1 - b + b * length / average) if average else k1
                            for length in lengths]
        self._weights = {}

    def idf(self, term):
        df = len(self.postings[term][0])
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def weights(self, term):
        """idf * tf * (k1 + 1) / (tf + K_d) for each posting of `term`
        (cached: queries share terms)."""
        cached = self._weights.get(term)
        if cached is None:
            idf = self.idf(term)
            scale = idf * (self.k1 + 1)
            docs, tfs = self.postings[term]
            norm = self.length_norm
            cached = array("d", (scale * tf / (tf + norm[d]) for d, tf in zip(docs, tfs)))
            self._weights[term] = cached
        return cached

    def search(self, query, depth, tie_key):
        """The `depth` best document numbers for `query`, best first; equal
        scores ordered by tie_key(number)."""
        counts = Counter(tokenize(query))
        # Upper bound of a term's contribution: qtf * idf * (k1 + 1).
        terms = sorted(((count * self.idf(term) * (self.k1 + 1), term, count)
                        for term, count in counts.items() if term in self.postings),
                       key=lambda item: (-item[0], item[1]))
        if not terms:
            return []
        remaining = [0.0] * (len(terms) + 1)
        for i in range(len(terms) - 1, -1, -1):
            remaining[i] = remaining[i + 1] + terms[i][0]
        scores = {}
        candidates = None
        for i, (_, term, count) in enumerate(terms):
            docs = self.postings[term][0]
            weights = self.weights(term)
            if candidates is None and len(scores) >= depth:
                threshold = heapq.nlargest(depth, scores.values())[-1]
                if remaining[i] < threshold:
                    # No unseen document can reach the top `depth` any more.
                    candidates = [d for d, s in scores.items() if s + remaining[i] >= threshold]
            if candidates is None:
                get = scores.get
                if count == 1:
                    for d, w in zip(docs, weights):
                        scores[d] = get(d, 0.0) + w
                else:
                    for d, w in zip(docs, weights):
                        scores[d] = get(d, 0.0) + count * w
            else:
                for d in candidates:
                    at = bisect.bisect_left(docs, d)
                    if at < len(docs) and docs[at] == d:
                        scores[d] += count * weights[at]
        pool = scores if candidates is None else candidates
        return heapq.nsmallest(depth, pool, key=lambda d: (-scores[d], tie_key(d)))


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError("%s:%d: %s" % (path, number, e)) from None


def run(data, split, k, k1, b):
    started = time.monotonic()
    ids = []
    texts = []
    for row in read_jsonl(os.path.join(data, "corpus.jsonl")):
        ids.append(row["_id"])
        title = row.get("title") or ""
        texts.append(title + "\n" + row.get("text", "") if title else row.get("text", ""))
    queries = {row["_id"]: row["text"] for row in read_jsonl(os.path.join(data, "queries.jsonl"))}
    qrels = metrics.read_qrels(os.path.join(data, "qrels", split + ".tsv"))
    index = Bm25Index(texts, k1, b)
    del texts
    indexed = time.monotonic()
    depth = max(k, metrics.MRR_DEPTH, metrics.NDCG_DEPTH)
    ranking = {}
    missing = 0
    for query_id in sorted(qrels):
        if query_id not in queries:
            missing += 1
            continue
        found = index.search(queries[query_id], depth, ids.__getitem__)
        ranking[query_id] = [ids[d] for d in found]
    searched = time.monotonic()
    result = metrics.evaluate(ranking, qrels, k)
    return {
        "data": os.path.abspath(data),
        "split": split,
        "ranking": "bm25",
        "k1": k1,
        "b": b,
        "documents": index.size,
        "metrics": {name: round(result[name], 4) for name in metrics.metric_names(k)},
        "queries": result["queries"],
        "queries_missing": missing,
        "index_seconds": round(indexed - started, 1),
        "search_seconds": round(searched - indexed, 1),
    }


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="BEIR-layout folder")
    parser.add_argument("--split", default="test", help="qrels/SPLIT.tsv (default test)")
    parser.add_argument("--k", type=int, default=10, help="recall cut-off (default 10)")
    parser.add_argument("--k1", type=float, default=0.9, help="BM25 k1 (default 0.9)")
    parser.add_argument("--b", type=float, default=0.4, help="BM25 b (default 0.4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be >= 1")
    try:
        result = run(args.data, args.split, args.k, args.k1, args.b)
    except (OSError, ValueError, KeyError) as e:
        sys.exit("bm25_baseline: %s" % e)
    if args.json:
        print(json.dumps(result))
        return 0
    print("BM25 (k1=%g, b=%g) over whole documents: %s, split %s, %d queries, %d documents" %
          (args.k1, args.b, result["data"], args.split, result["queries"], result["documents"]))
    print("  ".join("%s %.4f" % item for item in result["metrics"].items()))
    print("index %.1f s, search %.1f s%s" %
          (result["index_seconds"], result["search_seconds"],
           ", %d qrels queries missing from queries.jsonl" % result["queries_missing"]
           if result["queries_missing"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
