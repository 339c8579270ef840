"""Retrieval metrics over BEIR-layout test sets: recall@k, MRR@10, nDCG@10.

Shared by bm25_baseline.py and any runner that scores a ranking against the
qrels of a set built by make_manpage_set.py (or any BEIR set). Standard
library only.

Definitions (per query; a run maps a query id to its ranked document ids, best
first, or to a {doc id: score} map that rank() orders):
  - relevant: the qrels entries of the query with score > 0; queries with no
    relevant document are left out of every average (as trec_eval and BEIR do
    for queries absent from the qrels). A query in the qrels with no ranking
    in the run counts as 0.
  - recall@k = |relevant in the top k| / |relevant|.
  - MRR@10 = 1 / rank of the first relevant document within the top 10, else 0.
  - nDCG@10 = DCG@10 / IDCG@10 with graded gains: DCG = sum over ranks
    r = 1..10 of rel(doc at r) / log2(r + 1); IDCG is the same sum over the
    query's relevances sorted from highest down.
A document repeated in a ranking counts at its first rank only.
"""

import math

MRR_DEPTH = 10
NDCG_DEPTH = 10


def rank(scores):
    """Document ids of a {doc id: score} map, highest score first.

    Equal scores are ordered by document id (ascending string order), so a
    ranking is reproducible whatever order the scores were produced in.
    """
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def _unique_top(ranked, depth):
    """The first `depth` distinct ids of `ranked`, in order."""
    seen = set()
    top = []
    for doc in ranked:
        if doc in seen:
            continue
        seen.add(doc)
        top.append(doc)
        if len(top) == depth:
            break
    return top


def recall_at(ranked, rels, k):
    """|relevant in the top k| / |relevant|; None when nothing is relevant.

    `rels` maps doc id -> graded relevance (only > 0 counts as relevant).
    """
    relevant = {doc for doc, rel in rels.items() if rel > 0}
    if not relevant:
        return None
    found = sum(1 for doc in _unique_top(ranked, k) if doc in relevant)
    return found / len(relevant)


def mrr_at(ranked, rels, depth=MRR_DEPTH):
    """1 / rank of the first relevant document in the top `depth`, else 0;
    None when nothing is relevant."""
    if not any(rel > 0 for rel in rels.values()):
        return None
    for position, doc in enumerate(_unique_top(ranked, depth), start=1):
        if rels.get(doc, 0) > 0:
            return 1.0 / position
    return 0.0


def ndcg_at(ranked, rels, depth=NDCG_DEPTH):
    """DCG / ideal DCG over the top `depth` with gain = relevance and
    discount log2(rank + 1); None when nothing is relevant."""
    gains = sorted((rel for rel in rels.values() if rel > 0), reverse=True)
    if not gains:
        return None
    ideal = sum(gain / math.log2(position + 1)
                for position, gain in enumerate(gains[:depth], start=1))
    dcg = 0.0
    for position, doc in enumerate(_unique_top(ranked, depth), start=1):
        rel = rels.get(doc, 0)
        if rel > 0:
            dcg += rel / math.log2(position + 1)
    return dcg / ideal


def metric_names(k):
    """The keys evaluate() returns, in display order."""
    return ["recall@%d" % k, "mrr@%d" % MRR_DEPTH, "ndcg@%d" % NDCG_DEPTH]


def per_query(run, qrels, k=10):
    """{query id: {metric: value}} for every query of `qrels` with at least
    one relevant document.

    `run`: query id -> ranked doc ids (list, best first) or {doc id: score}.
    `qrels`: query id -> {doc id: relevance}.
    """
    names = metric_names(k)
    result = {}
    for query, rels in qrels.items():
        ranking = run.get(query, [])
        if isinstance(ranking, dict):
            ranking = rank(ranking)
        recall = recall_at(ranking, rels, k)
        if recall is None:
            continue
        result[query] = {
            names[0]: recall,
            names[1]: mrr_at(ranking, rels),
            names[2]: ndcg_at(ranking, rels),
        }
    return result


def evaluate(run, qrels, k=10):
    """Means over the queries with a relevant document: {"recall@k": ...,
    "mrr@10": ..., "ndcg@10": ..., "queries": n}. With no such query every
    mean is 0.0 and "queries" is 0."""
    scores = per_query(run, qrels, k)
    summary = {}
    for name in metric_names(k):
        values = [metrics[name] for metrics in scores.values()]
        summary[name] = sum(values) / len(values) if values else 0.0
    summary["queries"] = len(scores)
    return summary


def read_qrels(path):
    """Reads a BEIR qrels TSV (header `query-id<TAB>corpus-id<TAB>score`) into
    {query id: {doc id: int relevance}}. A repeated pair keeps the last score."""
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError("%s:%d: expected 3 tab-separated fields, found %d" %
                                 (path, number, len(fields)))
            if number == 1 and fields[2] == "score":
                continue
            try:
                score = int(fields[2])
            except ValueError:
                raise ValueError("%s:%d: score %r is not an integer" %
                                 (path, number, fields[2])) from None
            qrels.setdefault(fields[0], {})[fields[1]] = score
    return qrels
