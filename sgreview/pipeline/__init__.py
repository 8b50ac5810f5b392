"""The review pipeline: one function per stage, each called in one line by its notebook.

==========================  =============================  ==============================
stage                       function                       writes (under ``output_dir``)
==========================  =============================  ==============================
1 data quality              :func:`data_quality`           ``data_quality/``
2 theme discovery           :func:`theme_discovery`        ``themes/``
3 locality review           :func:`locality_review`        ``localities/<locality>/``
4 locality comparison       :func:`locality_comparison`    ``comparison/``
5 learning summary          :func:`learning_summary`       ``learning/<case-set>/``
3, 4 core questions         :func:`core_questions`         ``<report folder>/questions/``
==========================  =============================  ==============================

Each returns a small dataclass holding a board-level ``summary`` (Markdown), reviewer tables
with small counts already suppressed, and figures. :func:`run_review` runs all five as
notebooks; :func:`ensure_demo_data` makes the synthetic demo export on first use.
"""

from sgreview.pipeline.common import DEMO_DATA, ensure_demo_data, write_synthetic_export
from sgreview.pipeline.comparison import Comparison, locality_comparison
from sgreview.pipeline.discovery import Discovery, ensure_model, theme_discovery
from sgreview.pipeline.learning import LearningSummary, learning_summary
from sgreview.pipeline.locality import LocalityReview, locality_review
from sgreview.pipeline.quality import DataQuality, data_quality
from sgreview.pipeline.questions import CoreQuestions, core_questions
from sgreview.pipeline.review import ReviewOutcome, retry_failed, run_demo, run_review

__all__ = [
    "DEMO_DATA",
    "Comparison",
    "CoreQuestions",
    "DataQuality",
    "Discovery",
    "LearningSummary",
    "LocalityReview",
    "ReviewOutcome",
    "core_questions",
    "data_quality",
    "ensure_demo_data",
    "ensure_model",
    "learning_summary",
    "locality_comparison",
    "locality_review",
    "retry_failed",
    "run_demo",
    "run_review",
    "theme_discovery",
    "write_synthetic_export",
]
