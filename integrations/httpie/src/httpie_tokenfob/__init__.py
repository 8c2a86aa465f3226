"""HTTPie auth plugin: `http -A tokenfob [-a PROFILE] URL`."""

from httpie.plugins import AuthPlugin

from tokenfob.requests import TokenfobAuth


class TokenfobAuthPlugin(AuthPlugin):
    name = "tokenfob"
    auth_type = "tokenfob"
    description = "Bearer token from tokenfob; -a names the profile, else it is chosen by the URL"
    auth_require = False
    auth_parse = False
    prompt_password = False

    def get_auth(self, username=None, password=None):
        return TokenfobAuth(self.raw_auth or None)
