"""sgreview: reproducible thematic reviews of safeguarding incidents in mental health services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sgreview")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
