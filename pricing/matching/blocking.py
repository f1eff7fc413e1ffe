"""Blocking: the few catalog products worth comparing with an offer, found without all pairs.

170,000 offers against tens of thousands of SKUs is billions of pairs; the pairwise decision
costs tens of microseconds. So every record becomes a sparse vector of its *rare* words and its
part codes (weighted by IDF squared), and one sparse matrix product per chunk of offers gives each
offer's best-sharing products. Words found in more than ``max_df`` catalog records are dropped
from the index: "black" or "case" never narrow anything down, and they would fill the product.
Without them, a title with no part code ("Dyson Unlimited Cordless Vacuum 0.5L Beige") can share
exactly the same keys with a hundred products; which of those make the shortlist must not be
chance, so every one tied with the last one kept goes on to the rerank (up to ``MAX_TIED``),
which orders the shortlist by all shared words, common ones included, in one sparse pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from pricing.matching.attributes import Profile
from pricing.matching.pairwise import Idf

POOL = 5  # the sparse product shortlists top_k * POOL; all shared words then pick top_k
CODE_WEIGHT = 4.0  # a shared part code outweighs any single shared word
MAX_TIED = 400  # shortlist bound when many tie (simulator: 1 offer in 1,000 ties beyond 130)
TIE_TOLERANCE = 1e-5  # float32 sums of the same weights in another order still tie
RERANK_BATCH = 200_000  # (offer, product) pairs scored at once: bounds the rerank's memory


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
        # Every catalog word, common ones too, for the rerank: who shares "red" with the offer.
        self.word_ids: dict[str, int] = {}
        for p in catalog:
            for w in p.words:
                self.word_ids.setdefault(w, len(self.word_ids))
        self.words = self._word_matrix(catalog, weighted=False)
        self.mass = self.words @ self._word_weights()  # each product's own word weight

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

    def _word_weights(self) -> np.ndarray:
        weights = np.zeros(len(self.word_ids))
        for w, i in self.word_ids.items():
            weights[i] = self.idf(w) ** 2
        return weights

    def _word_matrix(self, profiles: Sequence[Profile], *, weighted: bool) -> sparse.csr_matrix:
        """Records x catalog words: 1 where a record has the word, or its IDF squared."""
        rows, cols, vals = [], [], []
        for r, p in enumerate(profiles):
            for w in p.words:
                c = self.word_ids.get(w)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    vals.append(self.idf(w) ** 2 if weighted else 1.0)
        return sparse.csr_matrix(
            (np.asarray(vals), (rows, cols)), shape=(len(profiles), len(self.word_ids))
        )

    def candidates(self, offers: Sequence[Profile]) -> list[list[int]]:
        """For each offer: catalog indices sharing a GTIN, then the ``top_k`` best-sharing ones."""
        out: list[list[int]] = []
        for start in range(0, len(offers), self.chunk):
            part = offers[start : start + self.chunk]
            scores = (self._vectors(part) @ self.matrix).tocsr()
            exact: dict[int, list[int]] = {}
            rows, cols, vals = [], [], []
            for r, p in enumerate(part):
                hit = self.gtins.get(p.gtin, []) if p.gtin else []
                if hit:  # an equal valid GTIN settles it: no need to rank anything else
                    exact[r] = hit
                    continue
                lo, hi = scores.indptr[r], scores.indptr[r + 1]
                c, v = scores.indices[lo:hi], scores.data[lo:hi]
                if len(v) > self.pool:
                    keep = self._shortlist(v)
                    c, v = c[keep], v[keep]
                rows.append(np.full(len(c), r))
                cols.append(c)
                vals.append(v)
            ranked = self._rerank(part, rows, cols, vals)
            out.extend(exact.get(r, ranked[r]) for r in range(len(part)))
        return out

    def _shortlist(self, vals: np.ndarray) -> np.ndarray:
        """Positions of the ``pool`` best scores and of all that tie with the last of them.

        Cutting a tie at an arbitrary point would drop products exactly as good as those kept:
        the true one, or the twin that makes the choice ambiguous (the rerank and the pairwise
        decision are what tell tied products apart)."""
        kth = np.partition(vals, len(vals) - self.pool)[len(vals) - self.pool]
        keep = np.flatnonzero(vals >= kth * (1 - TIE_TOLERANCE))
        if len(keep) > MAX_TIED:
            keep = keep[np.argsort(-vals[keep], kind="stable")[:MAX_TIED]]
        return keep

    def _rerank(
        self,
        part: Sequence[Profile],
        rows: list[np.ndarray],
        cols: list[np.ndarray],
        vals: list[np.ndarray],
    ) -> list[list[int]]:
        """Order each offer's shortlist by *all* shared words, common ones included: among
        siblings that share every rare word, "red" is what tells the red one apart. Among
        products sharing the same, the one saying least beyond the offer fits it best: "Bose
        Elite Headphones Red" is the plain Elite before the "Over-Ear" one, not whichever has
        the lower index. Done for all (offer, product) pairs of a chunk at once."""
        ranked: list[list[int]] = [[] for _ in part]
        if not rows:
            return ranked
        r, c = np.concatenate(rows), np.concatenate(cols)
        v = np.concatenate(vals).astype(np.float64)
        offer_words = self._word_matrix(part, weighted=True)
        shared = np.empty(len(r))
        for i in range(0, len(r), RERANK_BATCH):
            s = slice(i, i + RERANK_BATCH)
            both = offer_words[r[s]].multiply(self.words[c[s]])
            shared[s] = np.asarray(both.sum(axis=1)).ravel()
        # Rounded so that equal sums taken in another order stay equal: the index breaks ties.
        first, second = np.round(-(v + shared), 4), np.round(self.mass[c] - shared, 4)
        order = np.lexsort((c, second, first, r))
        r, c = r[order], c[order]
        place = np.arange(len(r)) - np.searchsorted(r, r)  # position within its offer's list
        for i, j in zip(
            r[place < self.top_k].tolist(), c[place < self.top_k].tolist(), strict=True
        ):
            ranked[i].append(j)
        return ranked
