"""A tiny stand-in for clamd that speaks its real INSTREAM protocol on a unix socket.

It reports the EICAR test string as ``Eicar-Test-Signature`` (as ClamAV does) and anything
else as clean, so the client (``documents.clamd``) is tested over a real socket, byte for byte.
"""

import socket
import struct
import threading

from ablage.testing.bad_uploads import EICAR


class FakeClamd:
    def __init__(self, path: str):
        self.path = path
        self.scanned: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            with connection:
                self._answer(connection)

    def _answer(self, connection) -> None:
        command = b""
        while not command.endswith(b"\0"):
            part = connection.recv(1)
            if not part:
                return
            command += part
        if command != b"zINSTREAM\0":
            connection.sendall(b"UNKNOWN COMMAND\0")
            return
        data = b""
        while True:
            size = struct.unpack("!L", _read_exactly(connection, 4))[0]
            if size == 0:
                break
            data += _read_exactly(connection, size)
        self.scanned.append(data)
        verdict = b"stream: Eicar-Test-Signature FOUND\0" if EICAR in data else b"stream: OK\0"
        connection.sendall(verdict)


def _read_exactly(connection, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = connection.recv(size - len(data))
        if not part:
            raise ConnectionError("client closed the stream early")
        data += part
    return data
