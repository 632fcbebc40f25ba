"""Live document events for the browser. Access is re-checked for every event, not only on connect."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from documents import events
from documents.selectors import document_team_ids, sees_all_documents, visible_documents


class DocumentStatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Every event goes to its owner's group and to the all-documents group: join exactly one.
        # Team members need their teammates' events too; they listen to everything and rely on
        # the per-event check below (events carry no team, and a team can change at any time).
        wide = await self._listens_widely(user)
        self.groups_joined = [events.ALL_DOCUMENTS_GROUP if wide else events.owner_group(user.id)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def document_event(self, message):
        event = message["event"]
        if await self._may_see(event["document_id"]):
            await self.send_json({"type": "document", **event})

    @database_sync_to_async
    def _listens_widely(self, user) -> bool:
        return sees_all_documents(user) or bool(document_team_ids(user))

    @database_sync_to_async
    def _may_see(self, document_id) -> bool:
        user = self.scope["user"]
        user.refresh_from_db(fields=["is_active"])
        return visible_documents(user).filter(id=document_id).exists()
