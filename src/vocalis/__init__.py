"""Vocalis: a self-hostable, multi-tenant AI voice agent platform."""

__version__ = "0.1.0"
