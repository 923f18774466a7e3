"""Workflows as data: a definition model (states, retry, catch), its validation, the events a
run records and the run aggregate. Pure: renderers (ASL) and runners live in ``runtime``."""
