"""The trust's published service names, kept un-redacted wherever reviewer text is made.

A review may name a YAML list of the trust's services (wards, units, hospitals, clinics) with
the ``services_path`` parameter. Redaction then keeps those names as they are, while any
other care-home, house or street name still becomes ``[ADDRESS]`` (DOMAIN.md: a ward is a
place of care, a care home's name can point at a resident). The list has to reach every
step that (re-)redacts text: the first redaction of the narratives, the defence-in-depth
re-redaction of excerpts and action descriptions, the "still holds an identifier" checks
that drop an excerpt (:func:`sgreview.redact.contains_identifiers` with ``services=``), and
the audit. Otherwise a second pass would tag "Mary Seacole Ward"
as ``[NAME] Ward`` after the first had kept it, or the audit would report it as a leak.

The names are public (the trust publishes them), so the manifest records the file's path,
hash and number of names, and the names themselves so the audit can be rerun on the run
folder alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The parameter naming the service-name file.
SERVICES_KEY = "services_path"


def read_services(path: str | Path | None) -> tuple[str, ...]:
    """The service names in ``path`` (a YAML list, or ``services: [...]``); none for no path.

    A missing file or one that is not a YAML list of names is a
    :class:`~sgreview.errors.ParameterError` naming the file (exit 2 at the CLI).
    """
    if path in (None, ""):
        return ()
    from sgreview.redact import load_service_names

    return tuple(load_service_names(Path(path).expanduser()))


def services_summary(parameters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the manifest records about the service list: path, SHA-256, number of names and
    the names (public, and needed to rerun the audit); None when no list was given."""
    path = (parameters or {}).get(SERVICES_KEY)
    if not path:
        return None
    from sgreview.errors import ParameterError
    from sgreview.io import sha256_file

    p = Path(path)
    try:
        names = read_services(p)
    except ParameterError as err:
        return {"path": str(p), "sha256": None, "names": None, "error": str(err)}
    return {"path": str(p.resolve()), "sha256": sha256_file(p), "names": len(names),
            "service_names": list(names)}


def services_from_manifest(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The service names a finished run kept, as its manifest recorded them."""
    record = manifest.get("service_names") or {}
    names = record.get("service_names")
    if isinstance(names, list):
        return tuple(str(n) for n in names)
    path = (manifest.get("parameters") or {}).get(SERVICES_KEY)
    if path and Path(path).is_file():
        from sgreview.errors import ParameterError

        try:
            return read_services(path)
        except ParameterError:
            return ()
    return ()
