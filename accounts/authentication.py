"""API key authentication: ``Authorization: Api-Key abl_<prefix>_<secret>`` (or ``Bearer``)."""

import hmac

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import APIKey, hash_api_key


class APIKeyAuthentication(authentication.BaseAuthentication):
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
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
        return api_key.user, api_key

    def authenticate_header(self, request):
        return "Api-Key"
