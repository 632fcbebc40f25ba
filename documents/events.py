"""Typed progress events, pushed to browsers over Channels when a channel layer is configured.

Without Redis there is no cross-process channel layer; browsers then poll and these calls
do nothing. Consumers re-check access for every event (``documents.consumers``).
"""

import logging
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

ALL_DOCUMENTS_GROUP = "documents.all"


def owner_group(owner_id) -> str:
    return f"documents.owner.{owner_id}"


@dataclass(frozen=True)
class DocumentEvent:
    document_id: str
    owner_id: str
    status: str
    stage: str = ""
    message: str = ""
    progress: float | None = None


def publish(event: DocumentEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "document.event", "event": asdict(event)}
    try:
        for group in (owner_group(event.owner_id), ALL_DOCUMENTS_GROUP):
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a dead Redis must never fail document processing
        logger.warning("Could not publish document event %s", event, exc_info=True)
