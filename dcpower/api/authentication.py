"""API authentication: dcpower's hashed tokens (dcpower/tokens.py) in an
``Authorization: Token dcp_…`` header, and JWTs. Both name the user they authenticate on the
request's log lines (dcpower/logs.py): the API authenticates inside the view, after every
middleware."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication

from dcpower.logs import bind_log_user
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
        bind_log_user(token.user)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword  # makes "not logged in" a 401, not a 403


class JwtAuthentication(JWTAuthentication):
    """simplejwt's ``Authorization: Bearer …`` (docs/security.md), naming its user in logs."""

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None:
            bind_log_user(authenticated[0])
        return authenticated
