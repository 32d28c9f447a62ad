"""Evaluation of the engine on data with known answers: ranking quality against hidden ground truth and a plain
TF-IDF baseline (:mod:`matcher.evaluation.ranking_quality`), and fairness audits by group
(:mod:`matcher.evaluation.fairness`).

Not part of the scoring path: nothing here is imported by the core, the API or the nightly run. The notebooks in
``notebooks/`` call these modules and the test suite executes them, so the published numbers stay reproducible.
"""
