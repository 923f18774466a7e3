"""Hyperparameter search: search spaces (``space``), objective and constraint expressions
(``expressions``), the study definition checks (``definition``) and the study aggregate whose
stream holds its trials (``study``, ``events``)."""
