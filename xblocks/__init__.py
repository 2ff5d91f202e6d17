"""Kafaat: hands-on labs and certification tracking for Open edX."""

__version__ = "0.1.0"
