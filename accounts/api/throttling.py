"""Rate limits: per signed-in user, per API key (its own rate or the default), per address for anonymous calls.

Counters live in the ``throttle`` cache: Redis when configured, so that every web process
counts the same requests; process memory otherwise (the embedded single-process default).
"""

from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from accounts.models import APIKey


class _SharedCacheMixin:
    @property
    def cache(self):
        return caches["throttle"]


class PerUserThrottle(_SharedCacheMixin, UserRateThrottle):
    """Signed-in sessions; requests made with a key are counted by ``PerKeyThrottle`` instead."""

    def get_cache_key(self, request, view):
        if isinstance(request.auth, APIKey):
            return None
        return super().get_cache_key(request, view)


class PerAddressThrottle(_SharedCacheMixin, AnonRateThrottle):
    pass


class PerKeyThrottle(_SharedCacheMixin, SimpleRateThrottle):
    scope = "api_key"

    def allow_request(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, APIKey):
            return True
        if api_key.rate_limit_per_minute:
            self.rate = f"{api_key.rate_limit_per_minute}/min"
        else:
            self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
