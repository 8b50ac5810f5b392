"""Untrusted text is text: make data and codebook strings inert before Markdown or HTML.

A locality, theme label, team or excerpt comes from an export or a codebook that anyone may
have typed into. Dropped raw into a report's Markdown, ``<img src=x onerror=...>`` runs in
the reader's browser and ``![](http://...)`` becomes a tracking pixel in a board paper. So
every such string passes through :func:`md` (for Markdown) or :func:`html` (for HTML) at the
point it is put into a sentence; template text around it keeps its own formatting.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

#: Markdown punctuation that could open emphasis, code, links, images, table cells or math
#: mid-line (data never starts a line: line breaks are collapsed). ``(`` and ``!`` only
#: matter next to an escaped ``[``/``]``.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
_SPACE = re.compile(r"\s+")


def md(value: Any) -> str:
    """``value`` as inert Markdown text that renders as exactly the characters given.

    Line breaks collapse to spaces (data cannot open a heading, list, quote or code block),
    HTML's ``& < >`` become entities, and Markdown punctuation is backslash-escaped, so a
    link, image, emphasis or raw HTML in the data shows as typed and never as markup.
    """
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text).replace("://", "\\://")  # no bare-URL autolinks
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html(value: Any) -> str:
    """``value`` escaped for HTML text or a quoted attribute."""
    return _html.escape("" if value is None else str(value), quote=True)


#: The Content-Security-Policy every reviewer HTML page carries: no script at all, images
#: only embedded (``data:``), styles only inline (the report's own CSS), no fetches, no forms.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; img-src data:; font-src data:; "
    "style-src 'unsafe-inline'"
)
