from django.urls import path

from documents import consumers

websocket_urlpatterns = [path("ws/documents/", consumers.DocumentStatusConsumer.as_asgi())]
