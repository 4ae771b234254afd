"""The fleet's HTTP/JSON control endpoint, for the demo and for anything outside the process.

    GET    /pdus                          every PDU: name, protocol, profile, host, port
    GET    /pdus/NAME                     ground truth: relay states, loads, readings, faults
    POST   /pdus/NAME/faults              {"latency_s": 0.2, "drop_fraction": 0.1,
                                           "unresponsive": true, "reject_commands": true,
                                           "stuck_outlets": [3], "reject_outlets": [4]}
    DELETE /pdus/NAME/faults              clear every fault
    POST   /pdus/NAME/outlets/N           {"on": false} switches at the device (drift);
                                          {"load_w": 250} changes the load
    POST   /pdus/NAME/restart             {"keep_state": true, "down_for_s": 2}

A deliberately small HTTP/1.1 server on asyncio streams (one request per connection), so the
simulators need no web framework. It binds to loopback by default.
"""

from __future__ import annotations

import asyncio
import json
import re
from http import HTTPStatus

from simulators.model import NoSuchOutlet

MAX_BODY = 64 * 1024


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlServer:
    def __init__(self, fleet, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fleet = fleet
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader), timeout=10)
            status, payload = HTTPStatus.OK, self.route(method, path, body)
        except HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        data = json.dumps(payload, indent=1).encode()
        writer.write(
            f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    def route(self, method: str, path: str, body: dict):
        fleet = self.fleet
        if method == "GET" and path == "/pdus":
            return fleet.describe()
        match = re.fullmatch(r"/pdus/([^/]+)(/faults|/restart|/outlets/(\d+))?", path)
        if not match:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no route for {method} {path}")
        name, action, outlet = match.group(1), match.group(2), match.group(3)
        if name not in fleet.pdus:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no simulated PDU named {name!r}")
        try:
            if action is None and method == "GET":
                pass  # a read changes nothing: the ground truth returned below is the answer
            elif action == "/faults" and method == "POST":
                fleet.inject(name, **body)
            elif action == "/faults" and method == "DELETE":
                fleet.clear(name)
            elif action == "/restart" and method == "POST":
                fleet.restart(
                    name,
                    keep_state=bool(body.get("keep_state", True)),
                    down_for_s=float(body.get("down_for_s", 0.0)),
                )
            elif outlet is not None and method == "POST":
                self._change_outlet(name, int(outlet), body)
            else:
                raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} not allowed on {path}")
        except NoSuchOutlet as exc:
            # Not a KeyError/ValueError: unhandled, it closed the connection without an answer.
            # An outlet in the path is a missing resource; one named in a body, a bad request.
            status = HTTPStatus.NOT_FOUND if outlet is not None else HTTPStatus.BAD_REQUEST
            raise HttpError(status, str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
        return fleet.ground_truth(name)

    def _change_outlet(self, name: str, number: int, body: dict) -> None:
        unknown = set(body) - {"on", "load_w"}
        if unknown or not body:
            raise HttpError(HTTPStatus.BAD_REQUEST, 'give "on" (true/false) and/or "load_w"')
        if "on" in body:
            if not isinstance(body["on"], bool):
                raise HttpError(HTTPStatus.BAD_REQUEST, '"on" must be true or false')
            self.fleet.switch(name, number, body["on"])
        if "load_w" in body:
            self.fleet.set_load(name, number, float(body["load_w"]))


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line") from None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    raw = await reader.readexactly(length) if length else b""
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HttpError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return method.upper(), target.split("?", 1)[0].rstrip("/") or "/", body
