import binascii
from hmac import compare_digest

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

INVALID = "Invalid token."


class BearerTokenAuthentication(TokenAuthentication):
    """Knox tokens (stored hashed, revocable one by one) sent as `Authorization: Bearer <token>`.

    Only the presented token is read. Knox's own check also reads every token of the user and
    deletes their expired ones, on every request: a second query, longer with each login. An
    expired token is refused here like any invalid one; `manage.py rotate_tokens --expired`
    deletes them.
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
        for auth_token in candidates.select_related("user"):
            if compare_digest(digest, auth_token.digest):
                return self._valid(auth_token)
        raise exceptions.AuthenticationFailed(INVALID)

    def _valid(self, auth_token):
        if auth_token.expiry is not None:
            if auth_token.expiry < timezone.now():
                raise exceptions.AuthenticationFailed(INVALID)
            if knox_settings.AUTO_REFRESH:
                self.renew_token(auth_token)
        return self.validate_user(auth_token)
