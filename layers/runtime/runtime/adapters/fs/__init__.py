"""Local-filesystem adapters (the embedded default): blob store, URL signing."""
