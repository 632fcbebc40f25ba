"""The notification centre's live feed: one group per user; the socket must belong to a signed-in user."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications import live
from notifications.selectors import notifications_for, unread_count


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = live.user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "unread", "unread": await self._unread()})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notification_created(self, message):
        payload = await self._notification(message["notification_id"])
        if payload is not None:
            await self.send_json(payload)

    async def notification_read(self, message):
        await self.send_json({"type": "unread", "unread": await self._unread()})

    @database_sync_to_async
    def _unread(self) -> int:
        return unread_count(self.scope["user"])

    @database_sync_to_async
    def _notification(self, notification_id) -> dict | None:
        user = self.scope["user"]
        user.refresh_from_db(fields=["is_active"])
        if not user.is_active:
            return None
        # Only the socket owner's own notifications, and only while they have not expired.
        notification = notifications_for(user).filter(id=notification_id).first()
        if notification is None:
            return None
        return {
            "type": "notification",
            "id": str(notification.id),
            "title": notification.title,
            "message": notification.message,
            "unread": unread_count(user),
        }
