"""Virus scanning through a ClamAV daemon (clamd) on a unix socket, with its INSTREAM command.

The protocol (clamd(8)): send ``zINSTREAM\\0``, then the data as chunks, each prefixed with
its length as a 4-byte big-endian unsigned integer, ended by a zero-length chunk; clamd
answers ``stream: OK``, ``stream: <signature> FOUND`` or ``... ERROR`` (NUL-terminated with
the ``z`` prefix). clamd closes the connection when the stream exceeds its StreamMaxLength.
"""

import socket
import struct

from django.conf import settings

CHUNK_BYTES = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd could not be reached or gave no usable answer; the file was not judged."""


def scan_bytes(data: bytes, *, socket_path: str | None = None, timeout: float | None = None) -> str | None:
    """The signature clamd found in ``data``, or None when it is clean."""
    socket_path = socket_path or settings.ABLAGE_CLAMD_SOCKET
    timeout = timeout if timeout is not None else settings.ABLAGE_CLAMD_TIMEOUT_SECONDS
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(socket_path)
            connection.sendall(b"zINSTREAM\0")
            for start in range(0, len(data), CHUNK_BYTES):
                chunk = data[start : start + CHUNK_BYTES]
                connection.sendall(struct.pack("!L", len(chunk)) + chunk)
            connection.sendall(struct.pack("!L", 0))
            answer = _read_reply(connection)
    except OSError as exc:
        raise ScannerUnavailable(f"clamd ({socket_path}): {exc}") from exc
    if answer.endswith(" FOUND"):
        return answer.removeprefix("stream:").removesuffix(" FOUND").strip()
    if answer == "stream: OK":
        return None
    raise ScannerUnavailable(f"clamd ({socket_path}): {answer or 'keine Antwort'}")


def _read_reply(connection) -> str:
    reply = b""
    while not reply.endswith(b"\0") and len(reply) < 4096:
        part = connection.recv(4096)
        if not part:
            break
        reply += part
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()
