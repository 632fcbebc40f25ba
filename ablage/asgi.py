"""ASGI entry point: HTTP through Django, websockets through Channels (same session auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ablage.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from documents.routing import websocket_urlpatterns as document_sockets  # noqa: E402
from monitoring.lifecycle import install_shutdown_hooks  # noqa: E402
from notifications.routing import websocket_urlpatterns as notification_sockets  # noqa: E402

install_shutdown_hooks()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(document_sockets + notification_sockets))
        ),
    }
)
