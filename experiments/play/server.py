"""The play page's server: the standard library's `ThreadingHTTPServer` on 127.0.0.1, one static
page, and a stepper behind one lock (steps are sequential, whichever tab sends them).

    GET  /       page.html
    GET  /info   JSON: action_names, key_map, default_action, modes, frame_shape [H, W, C]
    POST /reset  {"mode": str}                 -> the first frame, PNG
    POST /step   {"action": int, "mode": str}  -> the next frame, PNG

Frames come with `X-Step-Ms` (the stepper's milliseconds for this frame, PNG encoding not
included), `X-Step-Count` (steps since the last reset), `X-Mode` (percent-encoded) and `X-Action`. A missing mode is the stepper's first. Bad input is
answered 400 with one line naming the key and what is allowed.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image

from experiments.play.stepper import Stepper

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 4096


class BadRequest(ValueError):
    """One line for the client: the key and what is allowed."""


def png_bytes(frame: np.ndarray) -> bytes:
    """`[H, W, C]` uint8 (C 1 or 3) -> PNG bytes (fast compression: frames are small)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] not in (1, 3):
        raise TypeError(f"a frame must be [H, W, 1 or 3] uint8, got {frame.shape} {frame.dtype}")
    image = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class PlayServer:
    """Serves the play page for `stepper` on `host:port` (port 0: a free one, see `.url`).
    `start()` serves in a background thread, `serve_forever_until(max_seconds)` in this one;
    `shutdown()` stops either."""

    def __init__(self, stepper: Stepper, host: str = "127.0.0.1", port: int = 0) -> None:
        if not stepper.modes:
            raise ValueError("the stepper has no modes")
        self.stepper = stepper
        self.lock = threading.Lock()
        self.steps = 0
        self.frame_shape: list[int] | None = None
        self._started = False  # a reset has been done: step() may be called
        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.httpd.daemon_threads = True
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}/"

    # --- the stepper, under the lock -------------------------------------------------------

    def check_mode(self, body: dict[str, Any]) -> str:
        mode = body.get("mode", self.stepper.modes[0])
        if not isinstance(mode, str) or mode not in self.stepper.modes:
            raise BadRequest(f"mode: {mode!r} is not one of {self.stepper.modes}")
        return mode

    def check_action(self, body: dict[str, Any]) -> int:
        last = len(self.stepper.action_names) - 1
        if "action" not in body:
            raise BadRequest(f"action: missing; send an integer in 0..{last}")
        action = body["action"]
        if isinstance(action, bool) or not isinstance(action, int) or not 0 <= action <= last:
            raise BadRequest(f"action: {action!r} is not an integer in 0..{last} "
                             f"({', '.join(self.stepper.action_names)})")
        return action

    def reset(self, mode: str) -> tuple[np.ndarray, float, int]:
        """(frame, stepper milliseconds, step count)."""
        with self.lock:
            began = time.perf_counter()
            frame = self.stepper.reset(mode)
            ms = (time.perf_counter() - began) * 1e3
            self.steps, self._started = 0, True
            self.frame_shape = list(np.shape(frame))
            return frame, ms, self.steps

    def step(self, action: int, mode: str) -> tuple[np.ndarray, float, int]:
        """(frame, stepper milliseconds, step count); resets first if nothing has."""
        with self.lock:
            if not self._started:
                self.stepper.reset(mode)
                self.steps, self._started = 0, True
            began = time.perf_counter()
            frame = self.stepper.step(action, mode)
            ms = (time.perf_counter() - began) * 1e3
            self.steps += 1
            self.frame_shape = list(np.shape(frame))
            return frame, ms, self.steps

    def info(self) -> dict[str, Any]:
        if self.frame_shape is None:  # the page asks before any frame: reset to learn the shape
            self.reset(self.stepper.modes[0])
        return {"action_names": list(self.stepper.action_names),
                "key_map": dict(self.stepper.key_map),
                "default_action": int(self.stepper.default_action),
                "modes": list(self.stepper.modes),
                "frame_shape": self.frame_shape}

    # --- serving ---------------------------------------------------------------------------

    def start(self) -> PlayServer:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.httpd.serve_forever, name="play-server",
                                            daemon=True)
            self._thread.start()
            print(f"play: {self.url}", flush=True)
        return self

    def serve_forever_until(self, max_seconds: float | None = None) -> None:
        """Serve in this thread until `max_seconds` have passed (None: until Ctrl-C)."""
        timer = None
        if max_seconds is not None:
            timer = threading.Timer(max_seconds, self.httpd.shutdown)
            timer.daemon = True
            timer.start()
        print(f"play: {self.url}" + (f" (for {max_seconds:g} s)" if max_seconds else ""),
              flush=True)
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            if timer is not None:
                timer.cancel()
            self.httpd.server_close()

    def shutdown(self) -> None:
        """Stop serving (from another thread than the serving one) and close the socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> PlayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _handler_for(server: PlayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection for the page's loop
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms ACK wait
        timeout = 60

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes, content_type: str,
                 headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def send_text(self, status: int, line: str) -> None:
            self.send(status, (line + "\n").encode(), "text/plain; charset=utf-8")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self.send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif path == "/info":
                try:
                    info = server.info()
                except Exception as error:  # noqa: BLE001 - the stepper's, told in one line
                    return self.fail(error)
                self.send(200, json.dumps(info).encode(), "application/json")
            elif path == "/favicon.ico":
                self.send(204, b"", "image/x-icon")
            else:
                self.send_text(404, f"path: {path!r} not found; GET / or /info, POST /reset or "
                                    f"/step")

        def read_body(self) -> dict[str, Any]:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("Content-Length: not an integer") from None
            if length > MAX_BODY:
                raise BadRequest(f"body: {length} bytes; at most {MAX_BODY}")
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise BadRequest(f'body: not JSON ({error}); send {{"action": int, '
                                 f'"mode": str}}') from None
            if not isinstance(body, dict):
                raise BadRequest(f'body: a JSON {type(body).__name__}; send an object '
                                 f'{{"action": int, "mode": str}}')
            unknown = sorted(set(body) - {"action", "mode"})
            if unknown:
                raise BadRequest(f"{unknown[0]}: unknown key; allowed: action, mode")
            return body

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                body = self.read_body()
                if path == "/reset":
                    frame, ms, steps = server.reset(server.check_mode(body))
                    action = None
                elif path == "/step":
                    mode, action = server.check_mode(body), server.check_action(body)
                    frame, ms, steps = server.step(action, mode)
                else:
                    return self.send_text(404, f"path: {path!r} not found; POST /reset or /step")
                png = png_bytes(frame)
            except BadRequest as error:
                return self.send_text(400, str(error))
            except Exception as error:  # noqa: BLE001 - the stepper's, told in one line
                return self.fail(error)
            self.send(200, png, "image/png", {
                "X-Step-Ms": f"{ms:.3f}", "X-Step-Count": str(steps),
                "X-Mode": quote(body.get("mode", server.stepper.modes[0])),
                "X-Action": "" if action is None else str(action)})

        def fail(self, error: Exception) -> None:
            traceback.print_exception(error, file=sys.stderr)
            line = f"{type(error).__name__}: {error}".splitlines()[0]
            self.send_text(HTTPStatus.INTERNAL_SERVER_ERROR, line)

    return Handler
