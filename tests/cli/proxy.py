"""A small HTTP proxy in front of the live server that can lose an answer: it forwards each
request on a connection of its own, and for a request chosen by ``drop`` (the first one
only) waits for the server's whole answer and then closes the client's connection without
passing it on. The request took effect; the client never heard. What a client must survive
when a network or a load balancer breaks at the wrong moment."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class LosingProxy:
    upstream: str
    drop: Callable[[Seen], bool]
    seen: list[Seen] = field(default_factory=list)
    dropped: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._upstream = (parts.hostname, parts.port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="losing-proxy").start()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            if request is None:
                return
            head, body = request
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            seen = Seen(method, path, headers)
            with self._lock:
                self.seen.append(seen)
                lose = not self.dropped and self.drop(seen)
                if lose:
                    self.dropped.append(seen)
            kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
            forwarded = "\r\n".join([lines[0], *kept, "Connection: close", "", ""])
            with socket.create_connection(self._upstream, timeout=120) as upstream:
                upstream.sendall(forwarded.encode("latin-1") + body)
                answer = b""
                while chunk := upstream.recv(65536):
                    answer += chunk
            if not lose:
                client.sendall(answer)


def _read_request(client: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body
