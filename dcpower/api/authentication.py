"""API authentication: dcpower's hashed tokens (dcpower/tokens.py) in an
``Authorization: Token dcp_…`` header."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from dcpower.tokens import TokenRefused, api_token_check


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: 'Token <token>'.")
        try:
            plaintext = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        try:
            token = api_token_check(plaintext, request.META.get("REMOTE_ADDR"))
        except TokenRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword  # makes "not logged in" a 401, not a 403
