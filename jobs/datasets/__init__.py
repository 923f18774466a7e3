"""Built-in dataset importers (standard library only)."""
