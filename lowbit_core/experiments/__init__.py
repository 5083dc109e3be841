"""Experiments built on the numerics: each takes a frozen params dataclass and returns tidy data."""
