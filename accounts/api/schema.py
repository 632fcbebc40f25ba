"""Tells drf-spectacular how API keys are sent, so the schema and docs UI offer them."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key abl_<präfix>_<geheimnis>` (Schlüssel unter Konto → API-Schlüssel).",
        }
