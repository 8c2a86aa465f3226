"""Python side of tokenfob: a client for `tokenfob protocol` and a `requests` auth class (tokenfob.requests)."""

from tokenfob.client import TokenfobError, erase, get

__all__ = ["TokenfobError", "erase", "get"]
