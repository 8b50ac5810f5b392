"""Synthetic safeguarding incidents with planted themes, signals and identifiers.

Used by ``sgreview synth``, the demo, and every test that needs realistic narratives with a
known answer. See :func:`generate` and :func:`write_synth`.
"""

from sgreview.synth.generate import (
    LOCALITIES,
    THEME_KEYS,
    UNINFORMATIVE_KEY,
    SynthData,
    generate,
)
from sgreview.synth.write import sidecar_paths, write_synth

__all__ = [
    "LOCALITIES",
    "THEME_KEYS",
    "UNINFORMATIVE_KEY",
    "SynthData",
    "generate",
    "sidecar_paths",
    "write_synth",
]
