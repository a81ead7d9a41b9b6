"""`Authorization: Token <token>` against the hashed tokens, checked on every request."""

from rest_framework import authentication, exceptions

from api import tokens


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token scheme (so the schema documents it as such), looked up by digest.

    The user's `is_active` is read with the token on every request: deactivating someone stops their
    tokens at once, with nothing to revoke.
    """

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = tokens.find_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is deactivated.")
        return token.user, token
