"""Benchmark the theme engine: real-text agreement, reproducibility, planted themes, speed.

Run on purpose (not part of the test suite):

    .venv/bin/python benchmarks/bench_themes.py [--n 100000] [--skip-real] [--skip-speed]
        [--variants] [--planted-seeds 11 12 13 14 15 16]

Prints one line per measurement and a JSON summary at the end. The real-text part uses the
coroners' PFD development corpus in ../shared/data/pfd_dev (third-party data: read in
place, never copied) and is skipped when it is absent.

Real-text scores are given on the whole split and on two fixed halves (A: even rows,
B: odd rows). The model is always fitted on all reports without labels; when comparing
method variants (``--variants``), choose on half A and quote half B, so the figure quoted
was not used to choose. ``--variants`` re-runs the alternatives recorded as not kept in
:mod:`sgreview.themes.cluster` by swapping one building block at a time; they live here,
not in the package, because none was kept. ``--planted-seeds`` repeats the planted-theme
check on other synthetic corpora, because one generator seed can flatter auto k.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import normalize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgreview.redact import redact_incidents  # noqa: E402
from sgreview.synth import generate  # noqa: E402
from sgreview.themes import (  # noqa: E402
    UNTHEMED_ID,
    apply_themes,
    best_match_f1,
    cluster,
    fit_themes,
    unthemed_share,
)

PFD = ROOT.parent / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"


def pfd_split() -> pd.DataFrame:
    """The README's evaluation split: single tag, no catch-alls, no duplicates, >= 30 words."""
    d = pd.read_csv(PFD)
    d = d.loc[(d["n_categories"] == 1) & ~d["is_text_duplicate"].astype(bool)]
    d = d.loc[~d["categories"].str.startswith(("Other related", "Wales"))]
    d = d.loc[d["narrative"].fillna("").str.split().str.len() >= 30].reset_index(drop=True)
    return pd.DataFrame(
        {
            "incident_id": [f"P{i:05d}" for i in range(len(d))],
            "incident_date": pd.to_datetime(d["date"], errors="coerce"),
            "locality": d["area"].fillna("unknown"),
            "narrative": d["narrative"],
            "label": d["categories"],
        }
    )


def halves(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """NMI and ARI on half A (even rows: choose here), half B (odd rows: quote) and all."""
    a = np.arange(len(y)) % 2 == 0
    out = {}
    for name, rows in (("a", a), ("b", ~a), ("all", np.ones_like(a))):
        out[f"{name}_nmi"] = float(normalized_mutual_info_score(y[rows], pred[rows]))
        out[f"{name}_ari"] = float(adjusted_rand_score(y[rows], pred[rows]))
    return out


def real_text(out: dict) -> None:
    if not PFD.exists():
        print("real text: skipped (../shared/data/pfd_dev absent)")
        return
    data = pfd_split()
    y = data.pop("label").to_numpy()
    rows, runs = [], []
    for seed in (0, 1, 2):
        start = time.perf_counter()
        model = fit_themes(data, k=15, seed=seed)
        a = apply_themes(model, data)
        secs = time.perf_counter() - start
        pred = a["theme_id"].to_numpy()
        runs.append(pred)
        h = halves(y, pred)
        rows.append((h["all_nmi"], h["all_ari"], h["a_nmi"], h["a_ari"], h["b_nmi"], h["b_ari"]))
        print(
            f"PFD k=15 seed {seed}: NMI {h['all_nmi']:.3f} ARI {h['all_ari']:.3f} "
            f"(half A {h['a_nmi']:.3f}/{h['a_ari']:.3f}, half B {h['b_nmi']:.3f}/{h['b_ari']:.3f}; "
            f"{secs:.1f}s)"
        )
    table = np.array(rows)
    nmi, ari, a_nmi, a_ari, b_nmi, b_ari = table.mean(axis=0)
    lo, hi = table.min(axis=0), table.max(axis=0)
    seed_ari = [adjusted_rand_score(runs[i], runs[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    print(
        f"PFD k=15 mean of 3 seeds: NMI {nmi:.3f} [{lo[0]:.3f}, {hi[0]:.3f}] "
        f"ARI {ari:.3f} [{lo[1]:.3f}, {hi[1]:.3f}]; ARI between seeds {min(seed_ari):.3f}+"
    )
    model = fit_themes(data, k="auto", seed=0)
    a = apply_themes(model, data)
    auto_nmi = normalized_mutual_info_score(y, a["theme_id"])
    auto_ari = adjusted_rand_score(y, a["theme_id"])
    print(
        f"PFD k=auto: k={model.n_themes_} NMI {auto_nmi:.3f} ARI {auto_ari:.3f} unthemed {unthemed_share(a):.3f}"
    )
    out["pfd"] = {
        "n": len(data),
        "k15_nmi": round(nmi, 4),
        "k15_ari": round(ari, 4),
        "k15_nmi_range": [round(lo[0], 4), round(hi[0], 4)],
        "k15_ari_range": [round(lo[1], 4), round(hi[1], 4)],
        "k15_half_a": [round(a_nmi, 4), round(a_ari, 4)],
        "k15_half_b": [round(b_nmi, 4), round(b_ari, 4)],
        "k15_seed_ari_min": round(min(seed_ari), 4),
        "auto_k": model.n_themes_,
        "auto_nmi": round(auto_nmi, 4),
        "auto_ari": round(auto_ari, 4),
    }


# ---------------------------------------------------------------- variants not kept
# Each replaces one building block of sgreview.themes.cluster (same signature). They call
# the originals through these names, which the patching leaves alone.
_KNN_GRAPH, _SMOOTH_IDF, _CLUSTER_QR = cluster.knn_graph, cluster.smooth_idf, cluster.cluster_qr


def _bm25(k1: float = 1.2, b: float = 0.75):
    """Okapi BM25 term frequency (saturating, length-normalised) in place of sublinear TF."""

    def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        x = counts.astype(np.float32, copy=True).tocsr()
        dl = np.asarray(x.sum(axis=1)).ravel()
        rel = np.repeat(dl / max(dl.mean(), 1e-9), np.diff(x.indptr)).astype(np.float32)
        x.data = x.data * (k1 + 1) / (x.data + k1 * (1 - b + b * rel))
        return normalize(x @ sp.diags(idf.astype(np.float32)), copy=False)

    return tfidf


def _bm25_idf(counts: sp.csr_matrix) -> np.ndarray:
    n, df = counts.shape[0], np.bincount(counts.indices, minlength=counts.shape[1])
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def _entropy_weight(counts: sp.csr_matrix) -> np.ndarray:
    """Global weight of log-entropy LSA (Dumais 1991): 1 + sum_d p log p / log n."""
    x = counts.tocsc().astype(np.float64)
    gf = np.asarray(x.sum(axis=0)).ravel()
    x.data = x.data / np.repeat(gf, np.diff(x.indptr))
    x.data = x.data * np.log(x.data)
    return (1.0 + np.asarray(x.sum(axis=0)).ravel() / np.log(counts.shape[0])).astype(np.float32)


def _burst_idf(power: float):
    """IDF times burstiness (collection / document frequency) to a power (Church & Gale)."""

    def idf(counts: sp.csr_matrix) -> np.ndarray:
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        cf = np.asarray(counts.sum(axis=0)).ravel()
        return (_SMOOTH_IDF(counts) * (cf / np.maximum(df, 1)) ** power).astype(np.float32)

    return idf


def _binary_tf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    x = counts.astype(np.float32, copy=True).tocsr()
    x.data[:] = 1.0
    return normalize(x @ sp.diags(idf.astype(np.float32)), copy=False)


def _scaled_embed(power: float):
    """LSA vectors divided by (singular value) ** power before unit length (1 = whitening)."""

    def embed(x: sp.csr_matrix, basis: np.ndarray) -> np.ndarray:
        z = np.asarray(x @ basis, dtype=np.float32)
        return normalize(z / (np.linalg.norm(z, axis=0) + 1e-9) ** power)

    return embed


def _csls_graph(z: np.ndarray, n_neighbors: int, chunk: int = 2048) -> sp.csr_matrix:
    """Hubness-reduced neighbours (CSLS, Conneau et al. 2018): rank j for i by
    2 cos(i, j) - r_i - r_j, r = mean similarity to one's own k nearest; cosine weights."""
    n = z.shape[0]
    nn = int(min(n_neighbors, n - 1))
    r = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        sim = z[start : start + chunk] @ z.T
        idx = np.arange(sim.shape[0])
        sim[idx, start + idx] = -np.inf
        r[start : start + chunk] = -np.sort(-sim, axis=1)[:, :nn].mean(axis=1)
    rows, cols, vals = [], [], []
    for start in range(0, n, chunk):
        cos = z[start : start + chunk] @ z.T
        idx = np.arange(cos.shape[0])
        score = 2 * cos - r[start : start + chunk, None] - r[None, :]
        score[idx, start + idx] = -np.inf
        top = np.argpartition(-score, nn - 1, axis=1)[:, :nn]
        rows.append(np.repeat(start + idx, nn))
        cols.append(top.ravel())
        vals.append(np.maximum(cos[np.repeat(idx, nn), top.ravel()], 0.0) + 1e-6)
    a = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return a.maximum(a.T).tocsr()


def _snn_graph(z: np.ndarray, n_neighbors: int, chunk: int = 2048) -> sp.csr_matrix:
    """Shared-nearest-neighbour weights on the kNN edges (as in PhenoGraph / Jarvis-Patrick)."""
    a = (_KNN_GRAPH(z, n_neighbors, chunk) > 0).astype(np.float32)
    s = (a @ a.T).multiply(a).tocsr()
    s.data = s.data / n_neighbors + 1e-6
    return s


def _regularised_spectral(tau: float):
    """Degree-regularised normalised adjacency (Amini et al. 2013; Zhang & Rohe 2018):
    eigenvectors of (D + t)^-1/2 A (D + t)^-1/2 with t = tau x mean degree."""

    def spectral_vectors(graph: sp.csr_matrix, n_vectors: int, seed: int) -> np.ndarray:
        n = graph.shape[0]
        deg = np.asarray(graph.sum(axis=1)).ravel()
        inv = sp.diags(1.0 / np.sqrt(deg + tau * deg.mean()))
        m = (inv @ graph @ inv).astype(np.float64)
        n_vectors = int(min(n_vectors, n - 1))
        v0 = np.random.default_rng(seed).uniform(0.1, 1.0, size=n)
        w, v = eigsh(m, k=n_vectors, which="LA", v0=v0, tol=1e-8)
        v = v[:, np.argsort(-w)]
        return v * np.sign(v[np.abs(v).argmax(axis=0), np.arange(v.shape[1])])

    return spectral_vectors


def _qr_then_kmeans(vectors: np.ndarray) -> np.ndarray:
    """cluster-QR labels refined by k-means on row-normalised spectral vectors (Ng, Jordan
    & Weiss), started from the QR groups' means: deterministic, no restarts."""
    labels = _CLUSTER_QR(vectors)
    k = vectors.shape[1]
    if labels.max() + 1 < k:
        return labels
    u = normalize(vectors)
    init = np.vstack([u[labels == i].mean(axis=0) for i in range(k)])
    labels = KMeans(k, init=init, n_init=1).fit(u).labels_
    return np.unique(labels, return_inverse=True)[1]


VARIANTS: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "BM25 TF (k1 1.2, b 0.75)": ({"tfidf": _bm25()}, {}),
    "BM25 TF, no length norm (b 0)": ({"tfidf": _bm25(b=0.0)}, {}),
    "BM25 TF + BM25 IDF": ({"tfidf": _bm25(), "smooth_idf": _bm25_idf}, {}),
    "log-entropy weights": ({"smooth_idf": _entropy_weight}, {}),
    "IDF x burstiness^0.5": ({"smooth_idf": _burst_idf(0.5)}, {}),
    "IDF x burstiness^-0.5": ({"smooth_idf": _burst_idf(-0.5)}, {}),
    "binary TF": ({"tfidf": _binary_tf}, {}),
    "max_df 0.3": ({}, {"max_df": 0.3}),
    "LSA scaled by S^-0.5": ({"embed": _scaled_embed(0.5)}, {}),
    "LSA whitened": ({"embed": _scaled_embed(1.0)}, {}),
    "SNN graph": ({"knn_graph": _snn_graph}, {}),
    "CSLS graph": ({"knn_graph": _csls_graph}, {}),
    "CSLS graph, 10 neighbours": ({"knn_graph": _csls_graph}, {"n_neighbors": 10}),
    "CSLS graph, 25 neighbours": ({"knn_graph": _csls_graph}, {"n_neighbors": 25}),
    "regularised spectral tau 0.25": ({"spectral_vectors": _regularised_spectral(0.25)}, {}),
    "cluster-QR + k-means refine": ({"cluster_qr": _qr_then_kmeans}, {}),
    "CSLS + k-means refine": ({"knn_graph": _csls_graph, "cluster_qr": _qr_then_kmeans}, {}),
}


def _patched(swaps: dict) -> ExitStack:
    stack = ExitStack()
    for name, fn in swaps.items():
        stack.enter_context(mock.patch.object(cluster, name, fn))
    return stack


def variants(out: dict) -> None:
    """Each variant on the PFD split (k = 15, seed 0: the default's seeds agree exactly)."""
    if not PFD.exists():
        print("variants: skipped (../shared/data/pfd_dev absent)")
        return
    data = pfd_split()
    y = data.pop("label").to_numpy()
    out["variants"] = {}
    for name, (swaps, params) in VARIANTS.items():
        with _patched(swaps):
            pred = apply_themes(fit_themes(data, k=15, seed=0, **params), data)["theme_id"]
        h = halves(y, pred.to_numpy())
        print(
            f"variant {name:32s} A {h['a_nmi']:.3f}/{h['a_ari']:.3f}  "
            f"B {h['b_nmi']:.3f}/{h['b_ari']:.3f}  all {h['all_nmi']:.3f}/{h['all_ari']:.3f}"
        )
        out["variants"][name] = {key: round(v, 4) for key, v in h.items()}


def planted_seeds(out: dict, seeds: list[int]) -> None:
    """Planted-theme recovery (auto k) on other synthetic corpora, default vs CSLS graph.

    Also reports the share of the generator's pointer-only ("see RiO notes") narratives
    left unthemed, which should be 1.
    """
    sizes = {13: 3000, 14: 8000, 15: 6000, 16: 7000}
    out["planted_seeds"] = {}
    for gen in seeds:
        n = sizes.get(gen, 5000)
        sd = generate(n, seed=gen)
        incidents, _ = redact_incidents(sd.incidents)
        truth = sd.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"]
        for name in ("default", "CSLS graph"):
            with _patched(VARIANTS[name][0]):
                model = fit_themes(incidents, k="auto", seed=0)
                a = apply_themes(model, incidents)
            f1 = best_match_f1(truth.reset_index(drop=True), a["theme_id"]).set_index("label")
            f1 = f1["f1"].drop("uninformative", errors="ignore")
            nmi = normalized_mutual_info_score(truth.to_numpy(), a["theme_id"])
            pointer = truth.to_numpy() == "uninformative"
            pointer_unthemed = float((a["theme_id"].to_numpy()[pointer] == UNTHEMED_ID).mean())
            print(
                f"synthetic seed {gen} n={n} {name}: k={model.n_themes_} NMI {nmi:.3f}; "
                f"min F1 {f1.min():.3f} ({f1.idxmin()}); pointer-only unthemed "
                f"{pointer_unthemed:.2f}"
            )
            out["planted_seeds"][f"{gen}/{name}"] = {
                "n": n,
                "k": model.n_themes_,
                "nmi": round(nmi, 4),
                "min_f1": round(float(f1.min()), 4),
                "worst": f1.idxmin(),
                "pointer_unthemed": round(pointer_unthemed, 4),
            }


def planted(out: dict, n: int = 5000) -> None:
    sd = generate(n, seed=11)
    incidents, _ = redact_incidents(sd.incidents)
    truth = sd.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"].to_numpy()
    first = apply_themes(fit_themes(incidents, k="auto", seed=0), incidents)
    again = apply_themes(fit_themes(incidents, k="auto", seed=0), incidents)
    other = apply_themes(fit_themes(incidents, k="auto", seed=1), incidents)
    identical = first.to_csv(index=False) == again.to_csv(index=False)
    seed_ari = adjusted_rand_score(first["theme_id"], other["theme_id"])
    nmi = normalized_mutual_info_score(truth, first["theme_id"])
    f1 = best_match_f1(pd.Series(truth), first["theme_id"]).set_index("label")["f1"]
    f1 = f1.drop("uninformative", errors="ignore")
    k = first.loc[first["theme_id"] != "T00", "theme_id"].nunique()
    print(f"synthetic n={n}: k={k} NMI {nmi:.3f}; min best-match F1 {f1.min():.3f} ({f1.idxmin()})")
    print(f"synthetic n={n}: same seed identical {identical}; ARI seed 0 vs 1 {seed_ari:.3f}")
    out["planted"] = {
        "n": n,
        "k": int(k),
        "nmi": round(nmi, 4),
        "min_f1": round(float(f1.min()), 4),
        "f1": f1.round(3).to_dict(),
        "same_seed_identical": identical,
        "seed_ari": round(seed_ari, 4),
        "unthemed_share": round(unthemed_share(first), 4),
    }


def small(out: dict) -> None:
    incidents, _ = redact_incidents(generate(40, seed=4).incidents)
    model = fit_themes(incidents, k="auto", seed=0)
    a = apply_themes(model, incidents)
    print(
        f"40 incidents: {model.n_themes_} themes, unthemed {unthemed_share(a):.2f}, notes {model.notes_}"
    )
    out["small40"] = {"k": model.n_themes_, "unthemed_share": round(unthemed_share(a), 3)}


def speed(out: dict, n: int) -> None:
    incidents, _ = redact_incidents(generate(n, seed=21).incidents)
    texts = incidents["narrative"]
    start = time.perf_counter()
    TfidfVectorizer().fit_transform(texts)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    model = fit_themes(incidents, k="auto", seed=0)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    a = apply_themes(model, incidents)
    apply_s = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    total = fit_s + apply_s
    print(
        f"speed n={n}: fit {fit_s:.1f}s (k={model.n_themes_}, auto + stability) + apply {apply_s:.1f}s "
        f"= {total:.1f}s; apply {n / apply_s:,.0f} narratives/s; peak RSS {peak_gb:.2f} GB "
        f"(whole process); TfidfVectorizer floor {floor:.1f}s, ratio {total / floor:.1f}x"
    )
    out["speed"] = {
        "n": n,
        "fit_s": round(fit_s, 2),
        "apply_s": round(apply_s, 2),
        "total_s": round(total, 2),
        "apply_per_s": round(n / apply_s),
        "peak_rss_gb": round(peak_gb, 2),
        "tfidf_floor_s": round(floor, 2),
        "ratio_to_floor": round(total / floor, 2),
        "k": model.n_themes_,
        "unthemed_share": round(unthemed_share(a), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="narratives for the speed run")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--variants", action="store_true", help="compare methods not kept")
    parser.add_argument("--planted-seeds", type=int, nargs="*", default=[], metavar="SEED")
    args = parser.parse_args()
    out: dict = {}
    if not args.skip_speed:
        speed(out, args.n)  # first, so peak memory is the speed run's own
    if not args.skip_real:
        real_text(out)
    if args.variants:
        variants(out)
    planted(out)
    if args.planted_seeds:
        planted_seeds(out, args.planted_seeds)
    small(out)
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
