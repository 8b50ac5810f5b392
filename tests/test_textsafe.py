"""Untrusted text is text: data strings never become Markdown or HTML markup."""

from __future__ import annotations

import re

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from sgreview.textsafe import CONTENT_SECURITY_POLICY, html, md

#: Hostile strings a locality, theme label, team or narrative could hold.
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "<svg onload=alert(3)><circle r=9></svg>",
    "<a href=\"javascript:alert(4)\">click</a>",
    "[click](javascript:alert(5))",
    "![pixel](http://tracker.example/p.png)",
    "<http://tracker.example/q>",
    "http://tracker.example/bare.png",
    "<style>body{display:none}</style>",
    "<div style=\"background:url(http://tracker.example/c.png)\">x</div>",
    "<iframe src=http://tracker.example></iframe>",
    "**bold** _em_ `code` ~~strike~~ $x^2$",
    "line one\n\n# heading\n- list\n> quote\n    code block",
    "North | South",
]

#: Tags Markdown made from *our* template text; anything else came from data.
ALLOWED_TAGS = {"p", "strong", "em"}


def _tags(rendered: str) -> set[str]:
    return set(re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", rendered))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_data_in_markdown_renders_as_the_text_typed_and_no_markup(payload):
    rendered = markdown2html_mistune(f"**{md('North')} at a glance.** Theme {md(payload)} rose.")
    assert _tags(rendered) <= ALLOWED_TAGS, rendered
    assert not re.findall(r"<[a-zA-Z]+\s[^>]*>", rendered), "no element carries attributes"
    text = re.sub(r"<[^>]+>", "", rendered)
    import html as stdlib_html

    shown = stdlib_html.unescape(text)
    assert " ".join(payload.split()) in shown


def test_html_escapes_quotes_for_attributes():
    assert html('"><script>') == "&quot;&gt;&lt;script&gt;"


def test_content_security_policy_allows_no_script_and_no_remote_image():
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'none'"
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
