"""Evaluation: likelihood, realism, control, fidelity and originality of a checkpoint.

Judges live apart from generation: nothing generation uses to pick or guide outputs is the only
measure that scores them.
"""

__all__ = ["fidelity", "judges", "metrics", "ngram", "report", "suite"]
