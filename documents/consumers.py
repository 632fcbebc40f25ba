from channels.generic.websocket import AsyncJsonWebsocketConsumer


class DocumentStatusConsumer(AsyncJsonWebsocketConsumer):
    pass
