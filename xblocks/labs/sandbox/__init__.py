"""The environment engine: a backend protocol (``base``) and its backends (``local`` by default)."""
