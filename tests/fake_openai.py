"""A scripted fake OpenAI-compatible server on a real socket, for testing the LLM designer.

It serves ``POST /v1/chat/completions`` with realistic ``chat.completion`` JSON (``n``
honoured, ``usage`` filled in) and realistic OpenAI error bodies. Each request consumes the
next scripted behaviour (``Say``, ``Fail``, ``Sleep``); once the script is empty it answers
with ``replies`` (by default a valid CartPole program per choice). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyFn = Callable[[int, dict[str, Any]], str]  # (choice index, request body) -> text

ERRORS: dict[int, dict[str, Any]] = {
    400: {"message": "This model's maximum context length is 128000 tokens. However, your "
          "messages resulted in 131072 tokens. Please reduce the length of the messages.",
          "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"},
    401: {"message": "Incorrect API key provided: sk-fake***1234. You can find your API key at "
          "https://platform.openai.com/account/api-keys.",
          "type": "invalid_request_error", "param": None, "code": "invalid_api_key"},
    404: {"message": "The model `fake-model` does not exist or you do not have access to it.",
          "type": "invalid_request_error", "param": None, "code": "model_not_found"},
    429: {"message": "Rate limit reached for fake-model in organization org-fake on requests per "
          "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
          "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request. Sorry about that!",
          "type": "server_error", "param": None, "code": None},
    503: {"message": "The engine is currently overloaded, please try again later",
          "type": "server_error", "param": None, "code": None},
}


def cartpole_reply(index: int, body: dict[str, Any] | None = None) -> str:
    """A realistic reply: prose, then a valid CartPole program varied by ``index``."""
    weight = round(0.1 + 0.05 * index, 2)
    return (
        "Here is a reward that keeps the pole upright and the cart centred.\n\n"
        "```python\nimport numpy as np\n\n\n"
        "def compute_reward(state, action, next_state):\n"
        "    upright = np.cos(next_state.pole_angle)\n"
        f"    centred = -{weight} * np.square(next_state.cart_position)\n"
        '    return upright + centred, {"upright": upright, "centred": centred}\n'
        "```\n\nThe cosine term peaks when the pole is vertical; the quadratic term keeps the "
        "cart near x = 0."
    )


@dataclass
class Say:
    """Answer with these texts: one per choice (cycled), or a function of (index, body)."""

    texts: str | list[str] | ReplyFn
    finish_reason: str = "stop"
    choices: int | None = None  # answer with this many choices whatever ``n`` asks (servers
    # such as llama.cpp ignore ``n``)


@dataclass
class Fail:
    """Answer with an HTTP error and OpenAI's error body for ``status``."""

    status: int
    retry_after: float | None = None
    body: dict[str, Any] | None = None


@dataclass
class Sleep:
    """Wait ``seconds`` before answering normally (to trigger client timeouts)."""

    seconds: float


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeOpenAI:
    """The server's state: its script, its default replies and what it received."""

    replies: ReplyFn = cartpole_reply
    script: deque = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *behaviours: Say | Fail | Sleep) -> None:
        """Append behaviours, consumed one per request."""
        with self._lock:
            self.script.extend(behaviours)

    def next_behaviour(self, request: Request) -> Say | Fail | Sleep | None:
        with self._lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else None

    @property
    def completions(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def _texts(say: Say | None, fake: FakeOpenAI, body: dict[str, Any], n: int) -> list[str]:
    if say is None:
        return [fake.replies(i, body) for i in range(n)]
    if callable(say.texts):
        return [say.texts(i, body) for i in range(n)]
    texts = [say.texts] if isinstance(say.texts, str) else say.texts
    return [texts[i % len(texts)] for i in range(n)]


def completion_json(body: dict[str, Any], texts: list[str], finish_reason: str) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for ``texts``, with word-count token usage."""
    prompt = sum(len(str(m.get("content", "")).split()) + 4 for m in body.get("messages", []))
    completion = sum(len(t.split()) for t in texts)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t, "refusal": None},
             "logprobs": None, "finish_reason": finish_reason}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        request = Request(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"Invalid URL (POST {self.path})",
                                       "type": "invalid_request_error", "param": None,
                                       "code": None}})
            return
        behaviour = self.fake.next_behaviour(request)
        if isinstance(behaviour, Sleep):
            time.sleep(behaviour.seconds)
            behaviour = None
        if isinstance(behaviour, Fail):
            error = behaviour.body or ERRORS.get(behaviour.status, ERRORS[500])
            headers = {} if behaviour.retry_after is None else {
                "retry-after": str(behaviour.retry_after)}
            self._send(behaviour.status, {"error": error}, headers)
            return
        n = int(body.get("n") or 1)
        if isinstance(behaviour, Say) and behaviour.choices is not None:
            n = behaviour.choices
        finish = behaviour.finish_reason if isinstance(behaviour, Say) else "stop"
        self._send(200, completion_json(body, _texts(behaviour, self.fake, body, n), finish))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def start(fake: FakeOpenAI | None = None) -> tuple[FakeOpenAI, Callable[[], None]]:
    """Serve ``fake`` on 127.0.0.1 (a free port) in a thread; returns it and a stop function."""
    fake = fake or FakeOpenAI()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True,
                              name="fake-openai")
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return fake, stop
