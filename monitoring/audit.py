"""The audit log's hash chain: writing entries in order and verifying the chain.

GoBD asks for records that cannot be altered unnoticed. Every entry's hash covers its content
and the previous entry's hash; the first entry's ``previous_hash`` is empty. Writers take a
lock (PostgreSQL advisory transaction lock; SQLite transactions are IMMEDIATE and therefore
serial anyway) so that sequence numbers follow commit order without gaps.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from monitoring.models import AuditLog

_LOCK_KEY = 0x41424C41  # "ABLA": the advisory lock that serialises audit writers


def entry_digest(entry: AuditLog) -> str:
    content = {
        "sequence": entry.sequence,
        "previous_hash": entry.previous_hash,
        "created_at": entry.created_at.isoformat(),
        "actor": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "changes": entry.changes,
        "message": entry.message,
        "ip_address": entry.ip_address,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit_append(**fields) -> AuditLog:
    """Append one entry at the end of the chain (inside the caller's transaction)."""
    if fields.get("ip_address"):
        # Stored as the database normalises it (inet on PostgreSQL): hash that form.
        address = ipaddress.ip_address(fields["ip_address"])
        fields["ip_address"] = clean_ipv6_address(str(address)) if address.version == 6 else str(address)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        last = AuditLog.objects.exclude(sequence=None).order_by("-sequence").values("sequence", "entry_hash").first()
        entry = AuditLog(
            sequence=(last["sequence"] + 1) if last else 1, previous_hash=last["entry_hash"] if last else "", **fields
        )
        # created_at must be fixed before hashing; the row stores exactly what was hashed.
        entry.created_at = timezone.now()
        entry.entry_hash = entry_digest(entry)
        entry.save(force_insert=True)
    return entry


@dataclass
class ChainProblem:
    sequence: int | None
    kind: str  # "altered", "broken_link", "gap", "unsequenced"
    detail: str


def audit_chain_verify(*, batch: int = 2000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain; return (entries checked, problems)."""
    problems: list[ChainProblem] = []
    expected_sequence, previous = 1, ""
    checked = 0
    last_seen = 0
    while True:
        entries = list(
            AuditLog.objects.exclude(sequence=None).filter(sequence__gt=last_seen).order_by("sequence")[:batch]
        )
        if not entries:
            break
        for entry in entries:
            checked += 1
            if entry.sequence != expected_sequence:
                problems.append(
                    ChainProblem(entry.sequence, "gap", f"Einträge {expected_sequence}–{entry.sequence - 1} fehlen")
                )
            if entry.previous_hash != previous:
                problems.append(ChainProblem(entry.sequence, "broken_link", "Verweis auf den Vorgänger stimmt nicht"))
            if entry_digest(entry) != entry.entry_hash:
                problems.append(ChainProblem(entry.sequence, "altered", "Inhalt wurde nach dem Schreiben verändert"))
            expected_sequence, previous, last_seen = entry.sequence + 1, entry.entry_hash, entry.sequence
    unsequenced = AuditLog.objects.filter(sequence=None).count()
    if unsequenced:
        problems.append(ChainProblem(None, "unsequenced", f"{unsequenced} Einträge ohne Platz in der Kette"))
    return checked, problems
