"""Tutela's client library: everything that talks to the chain or the store."""

__version__ = "0.1.0"
