import binascii
from hmac import compare_digest

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from episode_metadata.common import permissions

INVALID = "Invalid token."


class BearerTokenAuthentication(TokenAuthentication):
    """Knox tokens (stored hashed, revocable one by one) sent as `Authorization: Bearer <token>`.

    Only the presented token is read, with its user and the user's permissions, in one query.
    Knox's own check also reads every token of the user and deletes their expired ones, on
    every request: a second query, longer with each login. An expired token is refused here
    like any invalid one; `manage.py rotate_tokens --expired` deletes them. The permissions
    would be a query of their own at the request's first check; under load each round trip
    to the database costs a request thread far more than the query itself.
    """

    def authenticate_credentials(self, token: bytes):
        try:
            presented = token.decode("utf-8")
            digest = hash_token(presented)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed(INVALID) from None
        candidates = get_token_model().objects.filter(
            token_key=presented[: CONSTANTS.TOKEN_KEY_LENGTH]
        )
        held = permissions.held_names(get_token_model(), "user")
        for auth_token in candidates.select_related("user").annotate(held_permissions=held):
            if compare_digest(digest, auth_token.digest):
                permissions.prefill(auth_token.user, auth_token.held_permissions)
                return self._valid(auth_token)
        raise exceptions.AuthenticationFailed(INVALID)

    def _valid(self, auth_token):
        if auth_token.expiry is not None:
            if auth_token.expiry < timezone.now():
                raise exceptions.AuthenticationFailed(INVALID)
            if knox_settings.AUTO_REFRESH:
                self.renew_token(auth_token)
        return self.validate_user(auth_token)
