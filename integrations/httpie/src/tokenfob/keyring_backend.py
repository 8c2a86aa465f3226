"""A keyring backend that answers a package index's URL with the token of the tokenfob profile that covers it.

pip (`--keyring-provider import` or `subprocess`), uv (`--keyring-provider subprocess`, through the `keyring`
command), twine and Poetry ask keyring for a service and maybe a user name. The service is an index URL
(`https://host/simple/`) or a bare `host[:port]`, which pip and uv try next. This backend asks `tokenfob protocol`
for the profile whose `match` covers that URL, the way `tokenfob get --url` chooses. A bare host is tried as
`https://HOST/`. The answer is the token as the password, under the profile's `index_username` (default
`__token__`). Anything else gets None, so keyring's chainer asks its next backend: a URL no profile covers, a
service that is no URL, and a user name other than the profile's.

tokenfob runs with `--no-input` and under a timeout (`TOKENFOB_KEYRING_TIMEOUT` seconds, default 60), with a pipe
for stdin, so it never reads the tool's stdin or prompts. A login that needs typing, any other failure and a
timeout all become None, and tokenfob's message is logged as a warning (it never holds a secret). Run `tokenfob
login PROFILE` first for profiles that ask for a password or a browser. Nothing is stored here: tokenfob makes its
own tokens, so `set_password` and `delete_password` refuse for the URLs it covers. For any other service they raise
an error that is also a NotImplementedError, the signal on which keyring's chainer tries the next backend, so an
ordinary keyring still stores other passwords.
"""

import logging
import os
import shutil
import urllib.parse

from jaraco.classes.properties import classproperty
from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential
from keyring.errors import PasswordDeleteError, PasswordSetError

from tokenfob import client

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


def index_url(service):
    """The URL a keyring service names: itself when it is an http(s) URL, else None. A bare `host[:port]` (pip and uv
    ask for one after the index URL) gets no answer: it says nothing of the scheme or the path, and read as
    `https://HOST/` it would give an https-only profile's token to a plain-http index on that host (the tools ask for
    the index URL first, and that answer is the one that counts)."""
    if not isinstance(service, str):
        return None
    scheme, sep, _ = service.partition("://")
    return service if sep and scheme.lower() in ("http", "https") else None


def _shown(service):
    """`service` without any user name or password in it, and cut to 200 characters, for messages."""
    if "://" in service:
        try:
            parts = urllib.parse.urlsplit(service)
            service = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        except ValueError:
            service = service.partition("://")[0] + "://..."
    return service if len(service) <= 200 else service[:200] + "..."


def _timeout():
    try:
        return float(os.environ.get("TOKENFOB_KEYRING_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


def _lookup(service):
    """(profile, user name, token) for `service`, or None when no profile covers it or tokenfob failed."""
    url = index_url(service)
    if url is None:
        return None
    try:
        answer = client.get(url=url, timeout=_timeout(), no_input=True)
    except client.TokenfobError as e:
        if e.code == "unknown_profile":
            log.debug("tokenfob: no profile covers %s", _shown(url))
        else:
            log.warning("tokenfob: no credential for %s: %s", _shown(url), e)
        return None
    return answer["profile"], answer.get("index_username") or "__token__", answer["token"]


def _covering_profile(service):
    """The profile whose `match` covers `service`, asked without logging in; None when none does."""
    url = index_url(service)
    if url is None:
        return None
    try:
        return client.status(url=url, timeout=_timeout())[0]["profile"]
    except (client.TokenfobError, LookupError, TypeError):
        return None


class _SetNotOurs(PasswordSetError, NotImplementedError):
    """Not a service of tokenfob's: keyring's chainer goes on to its next backend."""


class _DeleteNotOurs(PasswordDeleteError, NotImplementedError):
    """Not a service of tokenfob's: keyring's chainer goes on to its next backend."""


class TokenfobKeyring(KeyringBackend):
    """Tokens of tokenfob profiles as passwords for the package index URLs their `match` covers."""

    # Shown by Poetry (`Using keyring backend 'tokenfob'`), which also reads the first word of it.
    name = "tokenfob"

    @classproperty
    def priority(cls):
        # Above the operating system keyrings (5 to 5.1) and below the chainer (10): when there are other backends,
        # the chainer is chosen and asks this one first. Not viable without a tokenfob to run.
        if shutil.which(os.environ.get("TOKENFOB_BIN") or "tokenfob") is None:
            raise RuntimeError("tokenfob is not on PATH (or set TOKENFOB_BIN)")
        return 9

    def get_credential(self, service, username):
        found = _lookup(service)
        if found is None:
            return None
        profile, name, token = found
        if username and username != name:
            log.warning(
                "tokenfob: profile %s covers %s but gives its token to the user %r, not %r (put %r in the index URL, "
                "or set index_username in the profile)",
                profile,
                _shown(index_url(service)),
                name,
                username,
                name,
            )
            return None
        return SimpleCredential(name, token)

    def get_password(self, service, username):
        credential = self.get_credential(service, username)
        return None if credential is None else credential.password

    def set_password(self, service, username, password):
        profile = _covering_profile(service)
        if profile is None:
            raise _SetNotOurs(f"tokenfob stores no passwords, and no profile covers {_shown(service)}")
        raise PasswordSetError(
            f"tokenfob makes the tokens of {_shown(service)} itself (profile {profile}); nothing to store "
            f"(run `tokenfob login {profile}` to log in afresh)"
        )

    def delete_password(self, service, username):
        profile = _covering_profile(service)
        if profile is None:
            raise _DeleteNotOurs(f"tokenfob stores no passwords, and no profile covers {_shown(service)}")
        raise PasswordDeleteError(
            f"tokenfob keeps the token of {_shown(service)} in its own cache (profile {profile}); run `tokenfob erase "
            f"{profile}` to forget it"
        )
