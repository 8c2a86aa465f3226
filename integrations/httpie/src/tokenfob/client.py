"""Talks to `tokenfob protocol`: one JSON request per line on stdin, one JSON answer per line on stdout.

The token travels on a pipe, never in argv. Each call runs one short-lived `tokenfob protocol` process; tokenfob's
own cache makes that about a millisecond on a cache hit. A caller that must never wait on a person (the keyring
backend, run inside pip or uv) passes `no_input=True`, so tokenfob fails at once where a login needs typing, and a
`timeout` in seconds, after which tokenfob is killed and the call fails with the code `timeout`.
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


def _run(argv, data, timeout):
    """Runs tokenfob with `data` on stdin; its stdout, and its exit status. After `timeout` seconds tokenfob gets
    SIGTERM, on which it kills the program it runs (a `command` profile's, in a process group of its own, which
    would otherwise keep our caller's stderr open), and SIGKILL if it is still there 5 s later."""
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except OSError as e:
        raise TokenfobError("not_found", f"cannot run {argv[0]}: {e}") from None
    with process:
        try:
            out, _ = process.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise TokenfobError("timeout", f"{argv[0]} protocol gave no answer within {timeout:g} s") from None
    return out, process.returncode


def _ask(request, timeout=None, no_input=False):
    request = dict(request, v=1)
    argv = [_binary(), *(["--no-input"] if no_input else []), "protocol"]
    out, status = _run(argv, (json.dumps(request) + "\n").encode(), timeout)
    try:
        answer = json.loads(out.decode().splitlines()[0])
    except (IndexError, ValueError):
        raise TokenfobError("internal", f"tokenfob protocol gave no answer (exit {status})") from None
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise TokenfobError(error.get("code", "internal"), error.get("message", "tokenfob failed"))
    return answer


def _choice(request, profile, url):
    if profile:
        request["profile"] = profile
    if url and not profile:
        request["url"] = url
    return request


def get(profile=None, url=None, min_valid=None, timeout=None, no_input=False):
    """Returns the answer of a `get`: a dict with `token`, `token_type`, `expires_at`, `profile`, `header` and
    `index_username`."""
    request = _choice({"op": "get"}, profile, url)
    if min_valid:
        request["min_valid"] = min_valid
    return _ask(request, timeout=timeout, no_input=no_input)


def status(profile=None, url=None, timeout=None):
    """Returns the `profiles` list of a `status` (never a token; never logs in): every profile without a choice."""
    return _ask(_choice({"op": "status"}, profile, url), timeout=timeout, no_input=True)["profiles"]


def erase(profile, token):
    """Forgets `token` if the cache still holds exactly it; returns whether it did."""
    return _ask({"op": "erase", "profile": profile, "token": token}).get("erased", False)
