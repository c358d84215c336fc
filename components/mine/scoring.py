"""The three target-conditioned scorers; higher score = more like the seed (domain) corpus.

* ``dsir``: hashed character n-gram importance weights log p_seed(g) / p_pool(g) (Xie et al. 2023),
  averaged over a document's n-grams so long and short documents compete fairly.
* ``moore_lewis``: cross-entropy difference H_pool(doc) - H_seed(doc) of two hashed character
  n-gram language models with Dirichlet back-off smoothing (Moore & Lewis 2010), in nats/char.
* ``knn``: mean cosine similarity to the k nearest seed (or task) documents in a TF-IDF space
  reduced by truncated SVD (scikit-learn), as in kNN-TAPT (Gururangan et al. 2020).

Every model is a few fixed-size arrays: memory does not depend on the pool size, and the models
pickle cheaply to worker processes. Counting (``count_texts``) is pure and additive, so the pool
statistics are summed over shards computed in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.mine.features import Encoded, buckets, encode, per_doc_mean
from components.mine.params import MineParams

_DSIR_SALT, _ML_SALT, _KNN_SALT = 11, 23, 37


def count_texts(texts: list[str], params: MineParams, enc: Encoded | None = None) -> dict:
    """Additive hashed statistics of some texts for the configured method (pure)."""
    enc = enc or encode(texts)
    out: dict = {"n_docs": len(texts)}
    if params.method == "dsir":
        b = params.dsir.n_buckets_log2
        out["dsir"] = sum(
            np.bincount(buckets(enc.grams(n, _DSIR_SALT)[0], b), minlength=1 << b)
            for n in params.dsir.orders
        )
    elif params.method == "moore_lewis":
        b = params.moore_lewis.n_buckets_log2
        for n in range(1, params.moore_lewis.order + 1):
            out[f"ml{n}"] = np.bincount(buckets(enc.grams(n, _ML_SALT)[0], b), minlength=1 << b)
    else:
        b = params.knn.n_buckets_log2
        h, doc = _knn_grams(enc, params)
        key = np.unique(doc.astype(np.uint64) << np.uint64(b) | buckets(h, b).astype(np.uint64))
        out["df"] = np.bincount((key & np.uint64((1 << b) - 1)).astype(np.int64), minlength=1 << b)
    return out


def add_counts(total: dict | None, part: dict) -> dict:
    if total is None:
        return {
            k: (v.astype(np.int64) if isinstance(v, np.ndarray) else v) for k, v in part.items()
        }
    for k, v in part.items():
        total[k] = total[k] + v
    return total


def _knn_grams(enc: Encoded, params: MineParams) -> tuple[np.ndarray, np.ndarray]:
    hs, docs = zip(*(enc.grams(n, _KNN_SALT) for n in params.knn.orders), strict=True)
    return np.concatenate(hs), np.concatenate(docs)


@dataclass
class DSIRModel:
    weights: np.ndarray  # float32 log importance weight per bucket
    bits: int
    orders: list[int]

    @classmethod
    def fit(cls, seed: dict, pool: dict, params: MineParams) -> DSIRModel:
        d = params.dsir
        t, p = seed["dsir"].astype(np.float64), pool["dsir"].astype(np.float64)
        log_pool = np.log((p + d.smoothing) / (p.sum() + d.smoothing * len(p)))
        if d.prior == "pool":
            # Dirichlet prior toward the pool: an n-gram the seed has not seen (yet) keeps the
            # pool's probability, shrunk by the same factor for all, instead of the uniform
            # 1/(T + k*2^20) that makes every pool-rare n-gram look like seed evidence when the
            # seed is small (issue 17: seed of 300 short documents).
            mu = d.prior_strength
            log_seed = np.log((t + mu * np.exp(log_pool)) / (t.sum() + mu))
        else:
            log_seed = np.log((t + d.smoothing) / (t.sum() + d.smoothing * len(t)))
        w = log_seed - log_pool
        return cls(w.astype(np.float32), params.dsir.n_buckets_log2, list(params.dsir.orders))

    def score(self, enc: Encoded) -> np.ndarray:
        total = np.zeros(enc.n_docs)
        count = np.zeros(enc.n_docs)
        for n in self.orders:
            # Zeroing invalid n-grams is cheaper than filtering them out (no copies).
            h, valid = enc.grams_at(n, _DSIR_SALT)
            w = np.where(valid, self.weights[buckets(h, self.bits)], np.float32(0))
            total += np.bincount(enc.doc[: len(h)], weights=w, minlength=enc.n_docs)
            count += np.maximum(enc.lengths - n + 1, 0)
        return np.divide(total, count, out=np.zeros(enc.n_docs), where=count > 0)


@dataclass
class NgramLM:
    """Hashed character n-gram counts with recursive Dirichlet back-off."""

    tables: list[np.ndarray]  # float32 counts per order 1..N
    alpha: float


@dataclass
class MooreLewisModel:
    seed_lm: NgramLM
    pool_lm: NgramLM
    bits: int
    order: int

    @classmethod
    def fit(cls, seed: dict, pool: dict, params: MineParams) -> MooreLewisModel:
        n, a = params.moore_lewis.order, params.moore_lewis.alpha

        def lm(c: dict) -> NgramLM:
            return NgramLM([c[f"ml{k}"].astype(np.float32) for k in range(1, n + 1)], a)

        return cls(lm(seed), lm(pool), params.moore_lewis.n_buckets_log2, n)

    def score(self, enc: Encoded) -> np.ndarray:
        n = self.order
        full = [enc.grams_at(k, _ML_SALT) for k in range(1, n + 1)]
        starts = np.nonzero(full[n - 1][1])[0]  # windows of the highest order inside one doc
        last = starts + n - 1
        # The order-k n-gram ending at `last` starts at last - k + 1; the order-(k-1) context
        # of that n-gram starts at the same place.
        grams = [full[k - 1][0][last - k + 1] for k in range(1, n + 1)]
        ctx = [full[k - 2][0][last - k + 1] for k in range(2, n + 1)]
        aligned = [grams[0], *[x for pair in zip(ctx, grams[1:], strict=True) for x in pair]]
        doc = enc.doc[last]
        seed_lp = self._lp(self.seed_lm, aligned)
        pool_lp = self._lp(self.pool_lm, aligned)
        return per_doc_mean(seed_lp - pool_lp, doc, enc.n_docs)

    def _lp(self, lm: NgramLM, aligned: list[np.ndarray]) -> np.ndarray:
        uni = lm.tables[0]
        p = (uni[buckets(aligned[0], self.bits)] + 1.0) / (float(uni.sum()) + len(uni))
        for k in range(2, self.order + 1):
            ctx, gram = aligned[2 * k - 3], aligned[2 * k - 2]
            num = lm.tables[k - 1][buckets(gram, self.bits)]
            den = lm.tables[k - 2][buckets(ctx, self.bits)]
            # Hash collisions can make a count exceed its context's count; never let p pass 1.
            p = (num + lm.alpha * p) / (np.maximum(den, num) + lm.alpha)
        return np.log(p)


@dataclass
class KNNModel:
    idf: np.ndarray  # float32 per bucket
    columns: np.ndarray  # int64 buckets kept (the seed's most frequent features)
    components: np.ndarray  # float32 (dims, len(columns)) SVD basis
    seed_emb: np.ndarray  # float32 (n_seed, dims), unit rows
    k: int
    params: MineParams

    @classmethod
    def fit(cls, seed_texts: list[str], pool: dict, params: MineParams) -> KNNModel:
        from sklearn.decomposition import TruncatedSVD

        kp = params.knn
        df, n = pool["df"].astype(np.float64), pool["n_docs"]
        idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        x = _tf_matrix(encode(seed_texts), params)
        seed_df = np.asarray((x > 0).sum(axis=0)).ravel()
        order = np.argsort(-seed_df, kind="stable")[: kp.vocab_size]
        columns = np.sort(order[seed_df[order] > 0])
        xs = _l2_rows(_sublinear(x).multiply(idf).tocsr())[:, columns]
        dims = max(1, min(kp.dims, xs.shape[0] - 1, xs.shape[1] - 1))
        svd = TruncatedSVD(n_components=dims, random_state=params.random_seed).fit(xs)
        comp = svd.components_.astype(np.float32)
        emb = np.asarray(xs @ comp.T, dtype=np.float32)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return cls(idf, columns, comp, emb, min(kp.k, len(emb)), params)

    def score(self, enc: Encoded) -> np.ndarray:
        x = _l2_rows(_sublinear(_tf_matrix(enc, self.params)).multiply(self.idf).tocsr())
        # Normalised over all features but projected on the seed's: a document whose weight lies
        # mostly outside the seed vocabulary gets a short vector, hence low similarities.
        z = np.asarray(x[:, self.columns] @ self.components.T, dtype=np.float32)
        sims = z @ self.seed_emb.T
        top = np.partition(sims, sims.shape[1] - self.k, axis=1)[:, -self.k :]
        return top.mean(axis=1).astype(np.float64)


def _tf_matrix(enc: Encoded, params: MineParams):
    from scipy.sparse import csr_matrix

    b = params.knn.n_buckets_log2
    h, doc = _knn_grams(enc, params)
    ones = np.ones(len(h), dtype=np.float32)
    return csr_matrix((ones, (doc, buckets(h, b))), shape=(enc.n_docs, 1 << b))


def _sublinear(x):
    x = x.astype(np.float32)
    x.data = 1.0 + np.log(x.data)
    return x


def _l2_rows(x):
    from sklearn.preprocessing import normalize

    return normalize(x, norm="l2", axis=1, copy=False)


Model = DSIRModel | MooreLewisModel | KNNModel


def fit_model(params: MineParams, seed: dict, pool: dict, seed_texts: list[str]) -> Model:
    if params.method == "dsir":
        return DSIRModel.fit(seed, pool, params)
    if params.method == "moore_lewis":
        return MooreLewisModel.fit(seed, pool, params)
    return KNNModel.fit(seed_texts, pool, params)
