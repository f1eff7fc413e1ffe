"""Blocking: the few catalog products worth comparing with an offer, found without all pairs.

170,000 offers against tens of thousands of SKUs is billions of pairs; the pairwise decision
costs tens of microseconds. So every record becomes a sparse vector of its *rare* words and its
part codes (weighted by IDF squared), and one sparse matrix product per chunk of offers gives each
offer's best-sharing products. Words found in more than ``max_df`` catalog records are dropped
from the index: "black" or "case" never narrow anything down, and they would fill the product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from pricing.matching.attributes import Profile
from pricing.matching.pairwise import Idf

POOL = 5  # the sparse product shortlists top_k * POOL; all shared words then pick top_k
CODE_WEIGHT = 4.0  # a shared part code outweighs any single shared word


PAIR_WORDS = 6  # pairs of a record's rarest words are keys too: "apple"+"moto" is rare


def _keys(p: Profile, idf: Idf) -> list[str]:
    rare = sorted(p.words, key=lambda w: (-idf(w), w))[:PAIR_WORDS]
    pairs = [f"{a}+{b}" if a < b else f"{b}+{a}" for i, a in enumerate(rare) for b in rare[i + 1 :]]
    return list(p.words) + pairs + ["#" + c for c in p.codes if len(c) >= 4]


class Blocker:
    """Index of catalog profiles; :meth:`candidates` returns indices into that catalog."""

    def __init__(
        self,
        catalog: Sequence[Profile],
        idf: Idf,
        *,
        top_k: int = 6,
        max_df: int | None = None,
        chunk: int = 20_000,
    ) -> None:
        self.top_k = top_k
        self.pool = top_k * POOL
        self.catalog = catalog
        self.chunk = chunk
        self.idf = idf
        max_df = max_df or max(50, len(catalog) // 100)
        df: dict[str, int] = {}
        for p in catalog:
            for k in set(_keys(p, idf)):
                df[k] = df.get(k, 0) + 1
        self.vocab = {k: i for i, k in enumerate(k for k, n in df.items() if n <= max_df)}
        self.gtins: dict[str, list[int]] = {}
        for i, p in enumerate(catalog):
            if p.gtin:
                self.gtins.setdefault(p.gtin, []).append(i)
        self.matrix = self._vectors(catalog).T.tocsr()

    def _weight(self, key: str) -> float:
        if key.startswith("#"):
            return CODE_WEIGHT * self.idf.unseen
        if "+" in key:
            a, b = key.split("+", 1)
            return min(self.idf(a), self.idf(b))
        return self.idf(key)

    def _vectors(self, profiles: Sequence[Profile]) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for r, p in enumerate(profiles):
            for k in set(_keys(p, self.idf)):
                c = self.vocab.get(k)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    vals.append(self._weight(k))
        return sparse.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (rows, cols)),
            shape=(len(profiles), len(self.vocab)),
        )

    def candidates(self, offers: Sequence[Profile]) -> list[list[int]]:
        """For each offer: catalog indices sharing a GTIN, then the ``top_k`` best-sharing ones."""
        out: list[list[int]] = []
        for start in range(0, len(offers), self.chunk):
            part = offers[start : start + self.chunk]
            scores = (self._vectors(part) @ self.matrix).tocsr()
            for r, p in enumerate(part):
                exact = self.gtins.get(p.gtin, []) if p.gtin else []
                if exact:  # an equal valid GTIN settles it: no need to rank anything else
                    out.append(exact)
                    continue
                lo, hi = scores.indptr[r], scores.indptr[r + 1]
                cols, vals = scores.indices[lo:hi], scores.data[lo:hi]
                if len(vals) > self.pool:
                    keep = np.argpartition(-vals, self.pool)[: self.pool]
                    cols, vals = cols[keep], vals[keep]
                out.append(self._rerank(p, cols.tolist(), vals.tolist()))
        return out

    def _rerank(self, p: Profile, cols: list[int], vals: list[float]) -> list[int]:
        """Order the shortlist by *all* shared words, common ones included: among siblings that
        share every rare word, "red" is what tells the red one apart."""
        w2 = {w: self.idf(w) ** 2 for w in p.words}
        ranked = sorted(
            (-(v + sum(w2[w] for w in p.words & self.catalog[c].words)), c)
            for c, v in zip(cols, vals, strict=True)
        )
        return [c for _, c in ranked[: self.top_k]]
