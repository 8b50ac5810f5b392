"""The theme estimator: TF-IDF -> LSA -> neighbour graph -> spectral cut, scikit-learn style.

``ThemeModel`` behaves like a scikit-learn transformer: parameters are set in ``__init__``
and never changed by ``fit``; learned state ends in ``_``; ``transform`` gives document x
theme scores. See :mod:`sgreview.themes.cluster` for why this method (measured against
k-means and consensus clustering).

Choices a reviewer should know about:

- **Scores.** A narrative's score for a theme is its best cosine similarity (LSA space) to
  the theme's prototypes (a few sub-centres per theme, so a theme need not be a ball).
- **Unthemed is honest.** A narrative with fewer than ``min_terms`` known words, or whose
  best score for every theme is below ``min_score``, is "unthemed" (``-1``).
- **Seeded themes first.** Themes given as ``seed_terms`` take every narrative that uses at
  least ``min_seed_hits`` of their terms; the rest of the corpus is then discovered.
- **Auto k** (``k="auto"``): every candidate k in ``k_range`` is cut from the same spectral
  embedding, and k is chosen by *separation*: the Newman modularity of the cut on the
  neighbour graph (edge weight inside themes minus what chance wiring would give). Among
  the ks within ``auto_tolerance`` of the best, the smallest is taken (parsimony, as in the
  one-standard-error rule): modularity is flat near its peak, and the larger ks there were
  measured to split big themes (self-harm into ligatures / cutting) rather than find new
  ones. When the fit set is at most ``stability_docs``, modularity is computed on all of it
  and the chosen k does not change with the seed. *Agreement* (mean ARI of cuts on ``n_resamples`` random
  80% subsets with the full cut) is reported beside it in ``k_scores_``; it was measured as
  too noisy to choose k by itself (its curve is jagged and favours small k). After the
  cut, two mutually nearest themes that the taxonomy puts in one category (self-harm cut
  into ligatures / overdose) are merged; see ``_merge_same_theme``.
- **Stability** of each theme is the mean, over the same resamples, of the best Jaccard
  overlap between the theme's members and any resampled theme (Hennig 2007): 1 means the
  theme reappears with the same members every time; under 0.5 means it is not reliable.
- **Scale.** Fitting uses at most ``max_fit_docs`` narratives (a seeded random sample);
  stability and auto-k use at most ``stability_docs``. ``transform`` works in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from sgreview.errors import InputError, ParameterError
from sgreview.redact import identifier_like_terms, name_like_word
from sgreview.themes import cluster
from sgreview.themes.labels import (
    MATCH_DEPTH,
    PHRASE_DOCS,
    TAXONOMY_MIN_COVERAGE,
    acronyms,
    class_tfidf,
    load_taxonomy,
    nearest_taxonomy_key,
    proper_nouns,
    readable_label,
    taxonomy_coverage,
    taxonomy_name,
    theme_phrases,
    unique_labels,
)
from sgreview.themes.text import (
    clean_arrow,
    common_word_terms,
    count_terms,
    fit_vocabulary,
    tokenise_terms,
)

#: A term enters a model's vocabulary only when this many distinct incidents use it (and it
#: is no known given or family name): models are shared, so they must hold no identifier.
VOCAB_MIN_INCIDENTS = 2
#: Fewer usable narratives than this and the model declines to theme (all unthemed).
MIN_DOCS_TO_THEME = 20
#: Fewer than this many incidents is a usage error, not a thin result.
MIN_DOCS_TO_FIT = 3
#: Narratives per chunk when transforming.
CHUNK = 20_000
#: Terms kept per theme profile (used to match themes across refits).
PROFILE_TERMS = 200


def single_blas_thread() -> threadpool_limits:
    """Run BLAS on one thread: the matrices here are small or thin, and on a shared 2-core
    machine threaded BLAS was measured up to 10x slower (thread contention), not faster."""
    return threadpool_limits(limits=1, user_api="blas")


class ThemeModel(TransformerMixin, BaseEstimator):
    """Discover themes in redacted incident narratives.

    Parameters
    ----------
    k : int or "auto"
        Number of themes (seeded themes included), or "auto" (see module docs).
    random_state : int
        Seed for sampling and the start vectors of the iterative solvers.
    n_components : int
        LSA dimensions.
    n_neighbors : int
        Neighbours per narrative in the similarity graph.
    min_df, max_df : int or float
        Vocabulary limits (documents), with scikit-learn's meaning (int: count, float: share).
    min_terms : int
        Narratives with fewer distinct vocabulary terms are unthemed.
    min_score : float
        Cosine similarity below which a narrative is too far from every theme (unthemed).
    secondary_score, secondary_ratio : float
        Another theme is "secondary" when its score is at least ``secondary_score`` and at
        least ``secondary_ratio`` times the primary score.
    k_range : (int, int)
        Candidate numbers of discovered themes for ``k="auto"``.
    auto_tolerance : float
        Auto k takes the smallest k whose modularity is within this of the best.
    n_resamples, resample_fraction : int, float
        Resamples used for auto k and stability.
    max_fit_docs, stability_docs : int
        Sample sizes for fitting and for resampling.
    seed_terms : mapping of name -> list of terms, optional
        Seeded themes, assigned before discovery.
    min_seed_hits : int
        Distinct seed terms a narrative must use to be assigned to a seeded theme.
    min_theme_size : int
        Discovered themes smaller than this are dissolved into their neighbours.
    name_themes : bool
        Name themes from the built-in taxonomy when one clearly fits.
    """

    def __init__(
        self,
        k: int | str = "auto",
        random_state: int = 0,
        *,
        n_components: int = 100,
        n_neighbors: int = 15,
        min_df: int | float = 2,
        max_df: int | float = 0.5,
        min_terms: int = 3,
        min_score: float = 0.1,
        secondary_score: float = 0.3,
        secondary_ratio: float = 0.8,
        k_range: tuple[int, int] = (4, 30),
        auto_tolerance: float = 0.002,
        n_resamples: int = 5,
        resample_fraction: float = 0.8,
        max_fit_docs: int = 20_000,
        stability_docs: int = 4_000,
        seed_terms: Mapping[str, list[str]] | None = None,
        min_seed_hits: int = 2,
        min_theme_size: int = 5,
        name_themes: bool = True,
    ) -> None:
        self.k = k
        self.random_state = random_state
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_df = min_df
        self.max_df = max_df
        self.min_terms = min_terms
        self.min_score = min_score
        self.secondary_score = secondary_score
        self.secondary_ratio = secondary_ratio
        self.k_range = k_range
        self.auto_tolerance = auto_tolerance
        self.n_resamples = n_resamples
        self.resample_fraction = resample_fraction
        self.max_fit_docs = max_fit_docs
        self.stability_docs = stability_docs
        self.seed_terms = seed_terms
        self.min_seed_hits = min_seed_hits
        self.min_theme_size = min_theme_size
        self.name_themes = name_themes

    # ------------------------------------------------------------------ fit
    def fit(self, texts: Iterable[str], y: None = None) -> ThemeModel:
        """Learn vocabulary, LSA basis and theme centroids from redacted narratives."""
        with single_blas_thread():
            return self._fit(texts)

    def _fit(self, texts: Iterable[str]) -> ThemeModel:
        self._check_params()
        texts = list(texts)
        cleaned_arr = clean_arrow(texts)
        cleaned = pd.Series(cleaned_arr.to_pylist(), dtype=object).fillna("")
        n = len(cleaned)
        if n < MIN_DOCS_TO_FIT:
            raise InputError(
                f"{n} incident(s) given: at least {MIN_DOCS_TO_FIT} are needed to fit themes"
            )
        rng = np.random.default_rng(self.random_state)
        nonempty = np.flatnonzero(cleaned.str.contains(r"[a-z]{2}", regex=True).to_numpy())
        if len(nonempty) == 0:
            raise InputError("no narrative contains any words: the narrative column is empty")
        if cleaned.iloc[nonempty].nunique() < MIN_DOCS_TO_FIT:
            raise InputError(
                "fewer than 3 distinct narratives: all narratives are (nearly) identical"
            )
        sample = nonempty
        if len(sample) > self.max_fit_docs:
            sample = np.sort(rng.choice(sample, self.max_fit_docs, replace=False))

        min_df = self.min_df if len(sample) >= 10 * max(int(self.min_df), 1) else 1
        if isinstance(min_df, float):
            min_df = int(np.ceil(min_df * len(sample)))
        # Privacy floor: a saved model is shared, so no term seen in fewer distinct incidents
        # than VOCAB_MIN_INCIDENTS (a name that escaped redaction in one record) and no term
        # that is a known name (identifier_like_terms) enters its vocabulary.
        min_df = max(int(min_df), VOCAB_MIN_INCIDENTS)
        fit_text = pc.take(cleaned_arr, pa.array(sample))
        vocabulary = fit_vocabulary(fit_text, min_df, self.max_df if len(sample) > 20 else 1.0)
        named = set(identifier_like_terms(vocabulary))
        common = common_word_terms([texts[i] for i in sample])
        vocabulary = [t for t in vocabulary
                      if t not in named and (t in common or not name_like_word(t))]
        if not vocabulary:
            raise InputError(
                "no usable words: after removing stop words and rare words nothing is left "
                "(are the narratives empty, non-English or garbage text?)"
            )
        self.vocabulary_ = np.array(vocabulary, dtype=object)
        counts = count_terms(fit_text, vocabulary)
        informative = np.diff((counts > 0).tocsr().indptr) >= self.min_terms
        docs = sample[informative]
        counts = counts[informative]
        self.n_fit_docs_ = int(len(docs))
        self.n_unusable_ = int(n - len(nonempty) + (~informative).sum())
        self.notes_: list[str] = []
        if len(docs) < MIN_DOCS_TO_FIT or cleaned.iloc[docs].nunique() < MIN_DOCS_TO_FIT:
            raise InputError(
                f"only {len(docs)} narrative(s) have at least {self.min_terms} informative "
                "words: too little text to theme (non-English or garbage text?)"
            )
        self.idf_ = cluster.smooth_idf(counts)
        x = cluster.tfidf(counts, self.idf_)
        self.components_ = cluster.lsa_basis(x, self.n_components, self.random_state)
        z = cluster.embed(x, self.components_)

        seeded = self._seed_matrix()
        n_seeded = 0 if seeded is None else seeded.shape[1]
        fixed = self._seed_labels(counts, seeded)
        if isinstance(self.k, int) and self.k > len(docs):
            raise ParameterError(
                f"k={self.k} is more than the {len(docs)} incidents with usable narratives"
            )
        if len(docs) < MIN_DOCS_TO_THEME:
            self._fit_nothing(
                f"too few incidents to theme reliably ({len(docs)} with usable narratives; "
                f"at least {MIN_DOCS_TO_THEME} needed): all are listed as unthemed"
            )
            return self

        free = np.flatnonzero(fixed < 0)
        k_disc = self._discovered_k(n_seeded, len(free))
        labels, self.k_scores_, runs = self._discover(z[free], k_disc, rng)
        all_labels = fixed.copy()
        n_disc = int(labels.max()) + 1 if len(labels) else 0
        if n_disc > 0:
            all_labels[free] = labels + n_seeded
        k_total = n_seeded + n_disc
        if k_total == 0:
            self._fit_nothing("no themes could be found in these narratives")
            return self
        if (all_labels < 0).any():
            known = all_labels >= 0
            centroids = cluster.centroids_of(z[known], all_labels[known], k_total)
            all_labels[~known] = (z[~known] @ centroids.T).argmax(axis=1)
        all_labels, k_total = self._dissolve_small(z, all_labels, k_total, n_seeded)
        if self.k == "auto":
            all_labels, k_total = self._merge_same_theme(z, counts, all_labels, k_total, n_seeded)
        self.prototypes_, self.prototype_theme_ = cluster.prototypes(
            z, all_labels, k_total, int(self.random_state)
        )
        # Fit labels are what ``assign`` would give, so fit and apply never disagree.
        nearest = cluster.theme_scores(z, self.prototypes_, self.prototype_theme_).argmax(axis=1)
        all_labels = np.where(fixed >= 0, fixed, nearest)
        centroids = cluster.centroids_of(z, all_labels, k_total)

        self.centroids_ = centroids.astype(np.float32)
        self.origin_ = ["seeded"] * n_seeded + ["discovered"] * (len(centroids) - n_seeded)
        self.seed_names_ = list(self.seed_terms or {})
        self.seed_token_ids_ = (
            []
            if seeded is None
            else [np.flatnonzero(seeded[:, j].toarray().ravel()).tolist() for j in range(n_seeded)]
        )
        self.sizes_ = np.bincount(all_labels, minlength=len(centroids)).astype(np.int64)
        self.stability_, self.agreement_ = self._stability(z, all_labels, free, runs, n_seeded)
        fit_sim = np.einsum("ij,ij->i", z, centroids[all_labels])
        self._describe(counts, all_labels, raw=[texts[i] for i in docs],
                       cleaned=cleaned.iloc[docs].tolist(), similarity=fit_sim)
        self.fit_labels_ = all_labels
        self.theme_ids_ = [f"T{i + 1:02d}" for i in range(len(centroids))]
        self.status_ = ["active"] * len(centroids)
        return self

    def _check_params(self) -> None:
        if isinstance(self.k, bool) or not (
            self.k == "auto" or (isinstance(self.k, (int, np.integer)) and self.k >= 1)
        ):
            raise ParameterError(f"k must be a positive whole number or 'auto', got {self.k!r}")
        lo, hi = self.k_range
        if not (1 <= lo <= hi):
            raise ParameterError(
                f"k_range must be (low, high) with 1 <= low <= high: {self.k_range}"
            )
        if not 0 <= self.min_score < 1:
            raise ParameterError(f"min_score must be in [0, 1): {self.min_score}")

    def _fit_nothing(self, note: str) -> None:
        self.notes_.append(note)
        self.centroids_ = np.zeros((0, self.components_.shape[1]), dtype=np.float32)
        self.prototypes_ = self.centroids_.copy()
        self.prototype_theme_ = np.zeros(0, dtype=np.int64)
        self.origin_, self.seed_names_, self.seed_token_ids_ = [], [], []
        self.sizes_ = np.zeros(0, dtype=np.int64)
        self.stability_ = np.zeros(0)
        self.agreement_ = float("nan")
        self.k_scores_ = {}
        self.term_weights_ = np.zeros((0, len(self.vocabulary_)), dtype=np.float32)
        self.top_terms_, self.names_, self.taxonomy_, self.labels_ = [], [], [], []
        self.fit_labels_ = np.full(self.n_fit_docs_, -1)
        self.theme_ids_, self.status_ = [], []

    def _seed_matrix(self) -> sp.csc_matrix | None:
        """Vocabulary x seeded-theme indicator of seed tokens."""
        if not self.seed_terms:
            return None
        index = {t: i for i, t in enumerate(self.vocabulary_)}
        rows, cols = [], []
        for j, terms in enumerate(self.seed_terms.values()):
            hits = [index[t] for t in tokenise_terms(list(terms)) if t in index]
            rows += hits
            cols += [j] * len(hits)
        return sp.csc_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.vocabulary_), len(self.seed_terms)),
        )

    def _seed_labels(self, counts: sp.csr_matrix, seeded: sp.csc_matrix | None) -> np.ndarray:
        """Seeded theme of each row (-1 when none): most distinct seed terms, ties to first."""
        fixed = np.full(counts.shape[0], -1, dtype=np.int64)
        if seeded is None:
            return fixed
        hits = np.asarray(((counts > 0).astype(np.float32) @ seeded).todense())
        need = np.minimum(self.min_seed_hits, np.maximum(np.asarray(seeded.sum(axis=0)).ravel(), 1))
        ok = hits >= need
        if not ok.any():
            return fixed
        best = np.where(ok, hits, -1).argmax(axis=1)
        return np.where(ok.any(axis=1), best, -1)

    def _discovered_k(self, n_seeded: int, n_free: int) -> int | str:
        if self.k == "auto":
            return "auto"
        k_disc = int(self.k) - n_seeded
        if k_disc < 0:
            raise ParameterError(f"k={self.k} is smaller than the {n_seeded} seeded themes")
        return min(k_disc, n_free)

    def _candidate_ks(self, n: int) -> list[int]:
        lo, hi = self.k_range
        hi = int(min(hi, max(2, n // max(self.min_theme_size * 2, 1))))
        lo = int(min(lo, max(2, hi // 2)))
        return list(range(lo, hi + 1))

    def _discover(
        self, z: np.ndarray, k: int | str, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[int, dict], list[tuple[np.ndarray, np.ndarray]]]:
        """Spectral cut of the free narratives, auto k and the resampled cuts for stability."""
        n = z.shape[0]
        if k == 0 or n < MIN_DOCS_TO_FIT:
            return np.full(n, -1, dtype=np.int64), {}, []
        ks = self._candidate_ks(n) if k == "auto" else [int(k)]
        seed = int(self.random_state)
        nn = int(min(self.n_neighbors, max(n - 1, 1)))
        # Resampling works on a subset so that auto k costs the same at 1k and 100k.
        sub = np.arange(n)
        if n > self.stability_docs:
            sub = np.sort(rng.choice(n, self.stability_docs, replace=False))
        ref_graph = cluster.knn_graph(z[sub], nn)
        ref_vectors = cluster.spectral_vectors(ref_graph, max(ks), seed)
        runs = []
        m = max(int(round(self.resample_fraction * len(sub))), MIN_DOCS_TO_FIT)
        for r in range(self.n_resamples):
            pick = np.sort(rng.choice(len(sub), m, replace=False))
            graph = cluster.knn_graph(z[sub[pick]], nn)
            runs.append((pick, cluster.spectral_vectors(graph, max(ks), seed + r + 1)))
        scores = {}
        for kk in ks:
            ref = cluster.cluster_qr(ref_vectors[:, :kk])
            cuts = [cluster.cluster_qr(v[:, :kk]) for _, v in runs]
            aris = [adjusted_rand_score(ref[p], c) for (p, _), c in zip(runs, cuts, strict=True)]
            scores[kk] = {
                "modularity": round(cluster.modularity(ref_graph, ref), 4),
                "agreement": round(float(np.mean(aris)), 4) if aris else None,
            }
        if k == "auto":
            best = max(s["modularity"] for s in scores.values())
            k = min(kk for kk, s in scores.items() if s["modularity"] >= best - self.auto_tolerance)
        k = int(k)
        if n == len(sub):
            vectors = ref_vectors
        else:
            vectors = cluster.spectral_vectors(cluster.knn_graph(z, nn), k, seed)
        labels = cluster.relabel_by_size(cluster.cluster_qr(vectors[:, :k]), k)
        resampled = [(sub[p], cluster.cluster_qr(v[:, :k])) for p, v in runs]
        return labels, scores, resampled

    def _dissolve_small(
        self, z: np.ndarray, labels: np.ndarray, k: int, n_seeded: int
    ) -> tuple[np.ndarray, int]:
        """Dissolve discovered themes under ``min_theme_size`` into their nearest neighbours,
        then number discovered themes by size (largest first) after the seeded ones."""
        while True:
            sizes = np.bincount(labels, minlength=k)
            small = np.flatnonzero(sizes[n_seeded:] < self.min_theme_size) + n_seeded
            if len(small) == 0 or k - len(small) < 1:
                break
            keep = np.setdiff1d(np.arange(k), small)
            centroids = cluster.centroids_of(z, labels, k)[keep]
            new_index = np.full(k, -1, dtype=np.int64)
            new_index[keep] = np.arange(len(keep))
            labels = new_index[labels]
            moved = labels < 0
            labels[moved] = (z[moved] @ centroids.T).argmax(axis=1)
            k = len(keep)
        return _number_by_size(labels, k, n_seeded), k

    def _merge_same_theme(
        self, z: np.ndarray, counts: sp.csr_matrix, labels: np.ndarray, k: int, n_seeded: int
    ) -> tuple[np.ndarray, int]:
        """Auto k only: merge discovered themes that are one underlying theme cut in two.

        Near its modularity peak the spectral cut often splits one large theme into
        sub-themes (self-harm into overdose / ligatures / cutting) before smaller themes
        separate; on six synthetic corpora (generator seeds 11-16, pointer narratives
        already removed) self-harm was split on five, its best-match F1 0.53-0.77. Two
        themes are merged when

        - each is the other's nearest theme (centroid cosine), and the pair is closer than
          the median theme is to its own nearest theme (a corpus-relative "high"
          similarity: 0.27-0.29 on the synthetic corpora, where the merged pairs had
          0.36-0.55), and
        - the taxonomy puts both in the same domain category: both lean most to the same
          entry (:func:`~sgreview.themes.labels.nearest_taxonomy_key`), and they are not
          clearly named as two different entries.

        Why the taxonomy and not similarity alone: measured on those corpora, the halves of
        self-harm (centroid cosine 0.377-0.498; share of outside neighbour-graph weight
        going to the other half 0.47-0.74; modularity falls when they are joined) are
        barely closer than violence to staff and patient assault (cosine 0.353-0.364;
        share 0.45-0.56), which reviewers need kept apart. A similarity threshold could
        only split the two cases with no margin, and term overlap of the c-TF-IDF top terms
        is 0-3 of 10 for both; the domain categories do separate them. Merging repeats
        until no pair qualifies, so a theme cut in three comes back whole. Sub-themes stay
        visible as the merged theme's prototypes and top terms. An explicit k is never
        changed; without taxonomy naming (``name_themes=False``) nothing is merged.
        """
        if not self.name_themes:
            return labels, k
        entries = load_taxonomy()["incident_themes"]
        merged = False
        while k - n_seeded >= 2:
            weights = class_tfidf(counts, labels, k)
            order = np.argsort(-weights, axis=1, kind="stable")[:, :MATCH_DEPTH]
            clear, near = [], []
            for t, row in enumerate(order):
                terms = [str(self.vocabulary_[i]) for i in row]
                w = weights[t, row].tolist()
                entry = taxonomy_name(terms, w, entries) if t >= n_seeded else None
                clear.append(entry["key"] if entry else None)
                near.append(nearest_taxonomy_key(terms, w, entries) if t >= n_seeded else None)
            cent = cluster.centroids_of(z, labels, k)
            sim = cent @ cent.T
            np.fill_diagonal(sim, -np.inf)
            sim[:n_seeded, :] = -np.inf
            sim[:, :n_seeded] = -np.inf
            nearest = sim.argmax(axis=1)
            # "High" similarity is relative to this corpus: closer than the median theme
            # is to its own nearest theme.
            floor = float(np.median(sim[n_seeded:].max(axis=1)))
            target = np.arange(k)
            for i in range(n_seeded, k):
                j = int(nearest[i])
                if i >= j or nearest[j] != i:
                    continue
                same_name = clear[i] is not None and clear[i] == clear[j]
                conflict = None not in (clear[i], clear[j]) and clear[i] != clear[j]
                same_category = (
                    near[i] is not None
                    and near[i] == near[j]
                    and not conflict
                    and sim[i, j] >= floor
                )
                if same_name or same_category:
                    target[j] = i
            if (target == np.arange(k)).all():
                break
            _, new_index = np.unique(target, return_inverse=True)
            k = int(new_index.max()) + 1
            labels = new_index[labels]
            merged = True
        if not merged:
            return labels, k
        self.notes_.append("merged sub-themes of the same taxonomy category")
        return _number_by_size(labels, k, n_seeded), k

    def _stability(
        self,
        z: np.ndarray,
        labels: np.ndarray,
        free: np.ndarray,
        runs: list[tuple[np.ndarray, np.ndarray]],
        n_seeded: int,
    ) -> tuple[np.ndarray, float]:
        """Per-theme Jaccard stability (after Hennig 2007) and overall agreement (mean ARI).

        Each resampled theme is credited to the final theme holding most of its members;
        a theme's stability is the Jaccard overlap between its members and everything
        credited to it. So a theme that comes back whole, or as two halves, is stable; one
        that dissolves into its neighbours is not.
        """
        k = len(self.sizes_)
        stability = np.ones(k)
        if not runs:
            return stability * np.nan if k else stability, float("nan")
        per_run, aris = [], []
        for rows, resampled in runs:
            final = labels[free[rows]]
            aris.append(adjusted_rand_score(final, resampled))
            table = pd.crosstab(final, resampled)
            owner = table.index.to_numpy()[table.to_numpy().argmax(axis=0)]
            mapped = pd.Series(owner, index=table.columns).reindex(resampled).to_numpy()
            both = np.bincount(final[final == mapped], minlength=k).astype(np.float64)
            size_f = np.bincount(final, minlength=k)
            size_m = np.bincount(mapped.astype(np.int64), minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                jac = both / (size_f + size_m - both)
            per_run.append(pd.Series(np.where(size_f > 0, jac, np.nan)))
        jac = pd.concat(per_run, axis=1).mean(axis=1, skipna=True).to_numpy(copy=True)
        # Seeded themes are defined by their terms, not rediscovered: stability 1 by design.
        jac[:n_seeded] = 1.0
        return np.where(np.isnan(jac), 0.0, np.clip(jac, 0.0, 1.0)), float(np.mean(aris))

    def _describe(
        self, counts: sp.csr_matrix, labels: np.ndarray, *, raw: list | None = None,
        cleaned: list | None = None, similarity: np.ndarray | None = None,
    ) -> None:
        """Distinctive terms, taxonomy names and readable, unique labels of each theme.

        Labels use the taxonomy name when its terms appear in enough of the theme's
        narratives (``TAXONOMY_MIN_COVERAGE``), else the theme's own phrases from its most
        representative narratives; names of places and hospitals and report boilerplate are
        kept out (:mod:`sgreview.themes.labels`).
        """
        k = len(self.centroids_)
        self.term_weights_ = class_tfidf(counts, labels, k)
        order = np.argsort(-self.term_weights_, axis=1, kind="stable")[:, :PROFILE_TERMS]
        self.top_terms_ = [
            [str(self.vocabulary_[i]) for i in row[:10] if self.term_weights_[t, i] > 0]
            for t, row in enumerate(order)
        ]
        entries = load_taxonomy()["incident_themes"] if self.name_themes else []
        banned: frozenset[str] = frozenset()
        upper: frozenset[str] = frozenset()
        phrases: list[list[str]] = [[] for _ in range(k)]
        if cleaned is not None:
            # The most representative narratives of each theme: closest to its centre.
            rank = pd.Series(similarity if similarity is not None else np.zeros(len(labels)))
            rank = rank.groupby(labels).rank(ascending=False, method="first").to_numpy()
            top = np.where(rank <= PHRASE_DOCS, labels, -1)
            sample = [raw[i] for i in np.flatnonzero(top >= 0)] if raw else []
            banned, upper = proper_nouns(sample), acronyms(sample)
            phrases = theme_phrases(cleaned, top, k, banned)
        self.names_, self.taxonomy_ = [], []
        labels_out = []
        for t, row in enumerate(order):
            terms = [str(self.vocabulary_[i]) for i in row[:20]]
            weights = self.term_weights_[t, row[:20]].tolist()
            if self.origin_[t] == "seeded":
                name, key = self.seed_names_[t], None
            else:
                entry = taxonomy_name(terms, weights, entries)
                if entry is not None and cleaned is not None and taxonomy_coverage(
                        counts, labels, k, entry, self.vocabulary_)[t] < TAXONOMY_MIN_COVERAGE:
                    entry = None  # its words are distinctive but most incidents do not use them
                name, key = (entry["name"], entry["key"]) if entry else (None, None)
            self.names_.append(name)
            self.taxonomy_.append(key)
            labels_out.append(readable_label(name, phrases[t], self.top_terms_[t], banned, upper))
        clean_terms = [[w for w in terms if w not in banned] for terms in self.top_terms_]
        self.labels_ = unique_labels(labels_out, phrases, clean_terms)

    # ------------------------------------------------------------ transform
    @property
    def n_themes_(self) -> int:
        return int(len(self.centroids_))

    def _embed(self, cleaned: pa.Array) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        counts = count_terms(cleaned, self.vocabulary_)
        usable = np.diff((counts > 0).tocsr().indptr) >= self.min_terms
        z = cluster.embed(cluster.tfidf(counts, self.idf_), self.components_)
        return z, usable, counts

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Cosine similarity (clipped to [0, 1]) of each narrative to each theme."""
        cleaned = clean_arrow(list(texts))
        out = np.zeros((len(cleaned), self.n_themes_), dtype=np.float32)
        for start in range(0, len(cleaned), CHUNK):
            with single_blas_thread():
                z, usable, _ = self._embed(cleaned.slice(start, CHUNK))
            s = cluster.theme_scores(z, self.prototypes_, self.prototype_theme_)
            out[start : start + len(z)] = s * usable[:, None]
        return out

    def assign(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Primary theme index (-1 = unthemed), its score, and the full score matrix.

        Seeded themes are assigned first (by their terms); every other narrative goes to
        its most similar theme, or to unthemed when it is too short or too far from all.
        """
        cleaned = clean_arrow(list(texts))
        n = len(cleaned)
        scores = np.zeros((n, self.n_themes_), dtype=np.float32)
        primary = np.full(n, -1, dtype=np.int64)
        for start in range(0, n, CHUNK):
            with single_blas_thread():
                z, usable, counts = self._embed(cleaned.slice(start, CHUNK))
            s = cluster.theme_scores(z, self.prototypes_, self.prototype_theme_) * usable[:, None]
            scores[start : start + len(z)] = s
            if self.n_themes_ == 0:
                continue
            best = s.argmax(axis=1)
            ok = usable & (s.max(axis=1) >= self.min_score)
            seeded = self._seed_labels(counts, self._fitted_seed_matrix())
            best = np.where(usable & (seeded >= 0), seeded, best)
            ok |= usable & (seeded >= 0)
            primary[start : start + len(z)] = np.where(ok, best, -1)
        if self.n_themes_ == 0:
            return primary, np.zeros(n, dtype=np.float32), scores
        score = np.where(primary >= 0, scores[np.arange(n), np.maximum(primary, 0)], 0.0)
        return primary, score.astype(np.float32), scores

    def _fitted_seed_matrix(self) -> sp.csc_matrix | None:
        if not self.seed_token_ids_:
            return None
        rows = [i for ids in self.seed_token_ids_ for i in ids]
        cols = [j for j, ids in enumerate(self.seed_token_ids_) for _ in ids]
        return sp.csc_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.vocabulary_), len(self.seed_token_ids_)),
        )

    def secondary(self, primary: np.ndarray, scores: np.ndarray) -> list[list[int]]:
        """Other themes scoring at least ``secondary_score`` and ``secondary_ratio`` x primary."""
        if scores.shape[1] == 0:
            return [[] for _ in range(len(primary))]
        top = scores[np.arange(len(primary)), np.maximum(primary, 0)]
        mask = (scores >= self.secondary_score) & (scores >= self.secondary_ratio * top[:, None])
        mask[np.arange(len(primary)), np.maximum(primary, 0)] = False
        mask[primary < 0] = False
        rows, cols = np.nonzero(mask)
        order = np.lexsort((cols, -scores[rows, cols], rows))
        out: list[list[int]] = [[] for _ in range(len(primary))]
        for r, c in zip(rows[order], cols[order], strict=True):
            out[r].append(int(c))
        return out


def _number_by_size(labels: np.ndarray, k: int, n_seeded: int) -> np.ndarray:
    """Seeded themes keep their places; discovered ones are numbered largest first."""
    sizes = np.bincount(labels, minlength=k)[n_seeded:]
    order = np.lexsort((np.arange(k - n_seeded), -sizes))
    new_to_old = np.concatenate([np.arange(n_seeded), order + n_seeded])
    old_to_new = np.empty(k, dtype=np.int64)
    old_to_new[new_to_old] = np.arange(k)
    return old_to_new[labels]


def sample_size_note(n: int) -> str | None:
    """A caveat for thin data, shown beside results."""
    if n < MIN_DOCS_TO_THEME:
        return f"too few incidents to theme reliably ({n})"
    if n < 100:
        return f"small data ({n} incidents): themes are provisional; check stability"
    return None


__all__ = ["ThemeModel", "sample_size_note", "MIN_DOCS_TO_THEME"]
