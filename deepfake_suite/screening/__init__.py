"""Screening uploads: ``lightning score`` scores a folder of videos at a validation-chosen threshold.

:mod:`~deepfake_suite.screening.command` parses the arguments without importing Lightning;
:mod:`~deepfake_suite.screening.pipeline` loads the model and data from the ``fit`` configs,
picks the threshold (:mod:`~deepfake_suite.screening.operating_point`), crops the uploads
(:mod:`~deepfake_suite.screening.uploads`), aggregates ``predict_step`` outputs per video
(:mod:`~deepfake_suite.screening.scores`) and writes the CSVs
(:mod:`~deepfake_suite.screening.report`).
"""

from deepfake_suite.screening.command import score_command

__all__ = ["score_command"]
