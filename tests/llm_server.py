"""A local OpenAI-compatible chat-completions server for tests: scripted answers, recorded requests.

`FakeLLM.script` is a list of behaviours, one per request (the last one repeats):
"good" (a valid answer), "malformed" (not JSON), "off-schema" (JSON without the required
keys), "429", "500", "400", "401", "slow" (sleeps `slow_sec`, then a good answer).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_ANSWER = {
    "is_sales_dialogue": True,
    "upsell_attempted": True,
    "offers": [{"product": "чехол", "quote": "к ним чехол возьмете?", "accepted": True}],
    "customer_accepted": True,
    "quality_score": 8,
    "summary": "Покупатель взял наушники, продавец предложил чехол, покупатель согласился.",
    "recommendation": "Назовите пользу чехла: защита от царапин.",
}
USAGE = {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: str
    at: float  # time.monotonic() when it arrived


@dataclass
class FakeLLM:
    script: list[str] = field(default_factory=lambda: ["good"])
    slow_sec: float = 3.0
    retry_after: str = "0"  # the Retry-After header of a 429
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_behaviour(self) -> str:
        index = min(len(self.requests), len(self.script) - 1)
        return self.script[index]

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                behaviour = fake.next_behaviour()
                fake.requests.append(
                    Request(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        json.loads(raw),
                        behaviour,
                        time.monotonic(),
                    )
                )
                body = json.loads(raw)
                if behaviour == "slow":
                    time.sleep(fake.slow_sec)
                    behaviour = "good"
                if behaviour in ("429", "500", "400", "401"):
                    error = {"error": {"message": f"scripted {behaviour}", "type": "test"}}
                    self._send(int(behaviour), error)
                    return
                content = {
                    "good": json.dumps(GOOD_ANSWER, ensure_ascii=False),
                    "malformed": '{"is_sales_dialogue": true, "upsell_attempted": ',
                    "off-schema": json.dumps({"verdict": "yes"}),
                }[behaviour]
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": USAGE,
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", fake.retry_after)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
