"""uvicorn's h11 protocol with the timeouts a server facing slow or hostile clients needs.

uvicorn bounds only the keep-alive gap between requests. This subclass adds:

- an idle timeout from the moment a connection is accepted (uvicorn arms none until the first
  response, so a connection that never sends a byte stays open forever);
- a header timeout: the whole request head must arrive within ``header_timeout`` seconds of the
  connection (or of the previous response), however slowly its bytes trickle in (slowloris);
- a read timeout: while a request body is arriving, no gap between bytes may exceed
  ``read_timeout`` seconds (the app then sees ``http.disconnect``);
- protocol errors (conflicting or malformed ``Content-Length``, header block too large, an
  unknown transfer coding) answered in the API's JSON error shape with h11's status hint
  (400 / 431 / 501), not uvicorn's plain-text 400.

h11 itself enforces one ``Content-Length`` (several identical ones are folded, different ones
are an error), a digits-only value, and the size of the request head
(``h11_max_incomplete_event_size``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class Timeouts:
    idle: float = 5.0  # a connection with no request in progress
    header: float = 10.0  # the whole request head, from the connection (or last response)
    read: float = 30.0  # the longest silence while a body arrives
    graceful: float = 30.0  # shutdown: how long in-flight requests may still run


def _status_of(err: h11.RemoteProtocolError | None) -> int:
    hint = getattr(err, "error_status_hint", 400) if err is not None else 400
    return hint if hint in (400, 431, 501) else 400


def _field_of(message: str) -> str | None:
    low = message.lower()
    if "content-length" in low:
        return "Content-Length"
    if "transfer-encoding" in low:
        return "Transfer-Encoding"
    if "buffer too long" in low or "header" in low:
        return "headers"
    return None


def protocol_class(timeouts: Timeouts) -> type[H11Protocol]:
    """An H11Protocol subclass bound to these timeouts (uvicorn takes a protocol class)."""

    class TimedH11Protocol(H11Protocol):
        _timeouts = timeouts

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer: asyncio.TimerHandle | None = None
            self._read_timer: asyncio.TimerHandle | None = None
            self._protocol_error: h11.RemoteProtocolError | None = None
            next_event = self.conn.next_event

            def remembering_next_event() -> Any:
                try:
                    return next_event()
                except h11.RemoteProtocolError as err:
                    self._protocol_error = err
                    raise

            self.conn.next_event = remembering_next_event  # type: ignore[method-assign]

        # ---------------------------------------------------------------- timers
        def _cancel(self, name: str) -> None:
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

        def _close(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def _arm_head_timer(self) -> None:
            self._cancel("_head_timer")
            self._head_timer = self.loop.call_later(self._timeouts.header, self._close)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(self._timeouts.idle, self.timeout_keep_alive_handler)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel("_head_timer")
            self._cancel("_read_timer")
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY:  # head done, body under way: reset the silence timer
                self._cancel("_head_timer")
                self._cancel("_read_timer")
                self._read_timer = self.loop.call_later(self._timeouts.read, self._close)
            elif state is not h11.IDLE:  # head done, no (more) body to wait for
                self._cancel("_head_timer")
                self._cancel("_read_timer")

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()

        # ---------------------------------------------------------------- errors
        def send_400_response(self, msg: str) -> None:
            err = self._protocol_error
            detail = str(err) if err is not None and str(err) else msg
            status = _status_of(err)
            body = json.dumps(
                {"error": "bad_request" if status == 400 else "protocol_error", "message": detail,
                 "field": _field_of(detail)}
            ).encode()  # fmt: skip
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
                self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
            except h11.LocalProtocolError:  # the connection cannot answer any more: just close it
                pass
            self.transport.close()

    return TimedH11Protocol
