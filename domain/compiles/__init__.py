"""Compile jobs as an aggregate: a named recipe with validated parameters applied to a library
model, run by the ``compile`` workflow. Pure: services and steps live in ``runtime``."""
