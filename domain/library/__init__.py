"""Projects and the model library: aggregates, events, value objects."""
