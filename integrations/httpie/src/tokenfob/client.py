"""Talks to `tokenfob protocol`: one JSON request per line on stdin, one JSON answer per line on stdout.

The token travels on a pipe, never in argv. Each call runs one short-lived `tokenfob protocol` process; tokenfob's
own cache makes that about a millisecond on a cache hit.
"""

import json
import os
import subprocess


class TokenfobError(Exception):
    """tokenfob could not give a token; the message is tokenfob's own (it never contains a secret)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _binary():
    return os.environ.get("TOKENFOB_BIN") or "tokenfob"


def _ask(request):
    request = dict(request, v=1)
    try:
        done = subprocess.run(
            [_binary(), "protocol"],
            input=(json.dumps(request) + "\n").encode(),
            stdout=subprocess.PIPE,
            check=False,
        )
    except OSError as e:
        raise TokenfobError("not_found", f"cannot run {_binary()}: {e}") from None
    try:
        answer = json.loads(done.stdout.decode().splitlines()[0])
    except (IndexError, ValueError):
        raise TokenfobError("internal", f"tokenfob protocol gave no answer (exit {done.returncode})") from None
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise TokenfobError(error.get("code", "internal"), error.get("message", "tokenfob failed"))
    return answer


def get(profile=None, url=None, min_valid=None):
    """Returns the answer of a `get`: a dict with `token`, `token_type`, `expires_at`, `profile`, `header`."""
    request = {"op": "get"}
    if profile:
        request["profile"] = profile
    if url and not profile:
        request["url"] = url
    if min_valid:
        request["min_valid"] = min_valid
    return _ask(request)


def erase(profile, token):
    """Forgets `token` if the cache still holds exactly it; returns whether it did."""
    return _ask({"op": "erase", "profile": profile, "token": token}).get("erased", False)
