"""TLM's pure domain model: events, commands, aggregates, projections, value objects.

Imports nothing but the standard library and pydantic: no boto3, torch, HTTP or filesystem.
"""
