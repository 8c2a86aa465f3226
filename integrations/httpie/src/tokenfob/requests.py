"""A `requests` auth class that takes bearer tokens from tokenfob and retries once after a 401."""

from requests.auth import AuthBase

from tokenfob import client


class TokenfobAuth(AuthBase):
    """`requests.get(url, auth=TokenfobAuth("profile"))`; without a profile, tokenfob chooses one by the URL."""

    def __init__(self, profile=None):
        self.profile = profile

    def __call__(self, request):
        answer = client.get(profile=self.profile, url=request.url)
        self._set(request, answer)
        request.register_hook("response", self._retry_on_401)
        return request

    @staticmethod
    def _set(request, answer):
        request.headers["Authorization"] = "Bearer " + answer["token"]
        request._tokenfob = (answer["profile"], answer["token"])

    def _retry_on_401(self, response, **kwargs):
        request = response.request
        used = getattr(request, "_tokenfob", None)
        if response.status_code != 401 or used is None or getattr(request, "_tokenfob_retried", False):
            return response
        profile, token = used
        # Forget exactly the token that was rejected: a newer one another process fetched meanwhile survives.
        client.erase(profile, token)
        retry = request.copy()
        self._set(retry, client.get(profile=profile))
        retry._tokenfob_retried = True
        response.content  # read the body so the connection can be reused
        response.close()
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again
