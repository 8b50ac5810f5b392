"""The codebook a fitted model implies, carrying over an earlier model's analyst edits.

Kept apart from :mod:`sgreview.themes.api` so that :mod:`sgreview.themes.persist` (which
needs a default codebook for a model saved without one) sits below the fitting API instead
of importing it back: layers import downwards only.
"""

from __future__ import annotations

from sgreview.themes.codebook import Codebook, ThemeEntry
from sgreview.themes.model import ThemeModel


def build_codebook(
    model: ThemeModel, previous: ThemeModel | None, book: Codebook | None
) -> Codebook:
    """One codebook entry per theme of ``model``; seeded labels, analyst renames, merges and
    retirements carry over from ``book`` and ``previous``, and split themes are kept."""
    prev_book = previous.codebook_ if previous is not None else None
    prev_auto = (
        dict(zip(previous.theme_ids_, previous.labels_, strict=True))
        if previous is not None
        else {}
    )
    entries: list[ThemeEntry] = []
    for i, tid in enumerate(model.theme_ids_):
        label, status, merge = model.labels_[i], model.status_[i], None
        old = prev_book.get(tid) if prev_book is not None else None
        seed_entry = book.get(tid) if book is not None and model.origin_[i] == "seeded" else None
        if seed_entry is not None:
            label = seed_entry.label
        elif old is not None and old.label != prev_auto.get(tid, old.label):
            label = old.label
        if old is not None and old.retired:
            status = "retired"
        if old is not None and old.merge_into in model.theme_ids_:
            merge = old.merge_into
        entries.append(
            ThemeEntry(
                id=tid,
                label=label,
                status=status,
                origin=model.origin_[i],
                taxonomy=model.taxonomy_[i] or (seed_entry.taxonomy if seed_entry else None),
                merge_into=merge,
                seed_terms=list(seed_entry.seed_terms) if seed_entry else [],
                top_terms=list(model.top_terms_[i]),
                size=int(model.sizes_[i]),
                stability=round(float(model.stability_[i]), 3),
            )
        )
    known = {e.id for e in entries}
    for source in (prev_book, book):
        for e in source.themes if source is not None else []:
            if e.split_from and e.split_from in known and e.id not in known:
                entries.append(e.model_copy())
                known.add(e.id)
    out = Codebook(themes=sorted(entries, key=lambda e: int(e.id[1:])))
    # A carried-over merge may point at a theme that is now retired: drop such merges.
    for e in out.themes:
        target = out.get(e.merge_into) if e.merge_into else None
        if target is not None and target.retired:
            e.merge_into = None
    out.check("<codebook>", known_ids=set(model.theme_ids_))
    return out


def default_codebook(model: ThemeModel) -> Codebook:
    """The codebook a freshly fitted model implies (used when a model has none)."""
    return build_codebook(model, None, None)
