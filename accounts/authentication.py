"""API key authentication: ``Authorization: Api-Key abl_<prefix>_<secret>`` (or ``Bearer``)."""

import hmac

from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import APIKey, hash_api_key


class APIKeyAuthentication(authentication.BaseAuthentication):
    """Checks the key, its state, its user and the client address, then counts the request.

    ``request.auth`` is the ``APIKey``; scopes and the per-key rate are enforced by
    ``accounts.api.permissions.APIKeyScopePermission`` and ``accounts.api.throttling``.
    """

    keywords = ("api-key", "bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Ungültiger Authorization-Header.")
        raw_key = header[1]
        # The secret part is URL-safe base64 and may itself contain underscores.
        parts = raw_key.split("_", 2)
        if len(parts) != 3 or parts[0] != "abl":
            raise exceptions.AuthenticationFailed("Ungültiger API-Schlüssel.")
        api_key = APIKey.objects.select_related("user").filter(prefix=parts[1]).first()
        if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(raw_key)):
            raise exceptions.AuthenticationFailed("Ungültiger API-Schlüssel.")
        if not api_key.is_usable or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("API-Schlüssel ist widerrufen oder abgelaufen.")
        address = request.META.get("REMOTE_ADDR")
        if not api_key.allows_address(address):
            raise exceptions.AuthenticationFailed("Dieser API-Schlüssel ist für diese IP-Adresse nicht freigegeben.")
        APIKey.objects.filter(pk=api_key.pk).update(
            last_used_at=timezone.now(), last_used_ip=address or None, request_count=F("request_count") + 1
        )
        return api_key.user, api_key

    def authenticate_header(self, request):
        return "Api-Key"
