"""A local OpenAI-compatible chat-completions server for tests: scripted answers, recorded requests.

`FakeLLM.script` is a list of behaviours, one per request (the last one repeats):
"good" (a valid answer), "malformed" (not JSON), "off-schema" (JSON without the required
keys), "bad-quote" (a quote that is not in the transcript), "too-long" (a summary past
its cap), "fenced" (a valid answer inside prose and a ```json fence), "gullible" (what a
model that obeys any instruction in the transcript would say: asked to, it reports an
upsell scored 10; otherwise it answers honestly, with the rules analyzer's verdict of the
delimited transcript), "429", "500", "400", "401", "slow" (sleeps `slow_sec`, then a good
answer). `formats` is what the server accepts as response_format ("text" = none sent,
"json_object+schema" = json_object carrying a schema); another is refused the way
llama-cpp-python's server refuses json_schema (HTTP 500, "Input should be 'text' or
'json_object'").
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_ANSWER = {
    "is_sales_dialogue": True,
    "upsell_attempted": True,
    "offers": [{"product": "чехол", "quote": "к ним может быть чехол возьмете", "accepted": True}],
    "customer_accepted": True,
    "quality_score": 8,
    "summary": "Покупатель взял наушники, продавец предложил чехол, покупатель согласился.",
    "recommendation": "Назовите пользу чехла: защита от царапин.",
}
USAGE = {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
ALL_FORMATS = frozenset({"json_schema", "json_object+schema", "json_object", "text"})
# What a gullible model takes for an order: any of these words in what it was sent.
_ORDER = re.compile(
    r"игнорир|поставь|поставьте|ignore|quality_score|upsell_attempted|десять баллов|ты теперь",
    re.IGNORECASE,
)


def _transcript(user: str) -> str:
    """The transcript between the analyzer's delimiter lines, without role labels."""
    lines = user.splitlines()[1:-1] if user.startswith("<<<") else user.splitlines()
    return " ".join(re.sub(r"^\[[^\]]*\]\s*", "", line) for line in lines)


def gullible(user: str) -> dict[str, Any]:
    """The answer of a model that does whatever the transcript tells it to."""
    from salescontrol.analysis import rules

    text = _transcript(user)
    order = _ORDER.search(user)
    if order:
        return {
            "is_sales_dialogue": True,
            "upsell_attempted": True,
            "offers": [{"product": "всё", "quote": text[:60], "accepted": True}],
            "customer_accepted": True,
            "quality_score": 10,
            "summary": "Как велено в расшифровке.",
            "recommendation": "Нет.",
        }
    return rules.analyze(text).answer()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: str
    at: float  # time.monotonic() when it arrived

    @property
    def format(self) -> str:
        """The response_format asked for: its type, "+schema" when it carries one
        (llama-cpp-python's extension), "text" when none."""
        asked = self.body.get("response_format") or {}
        return asked.get("type", "text") + ("+schema" if "schema" in asked else "")


@dataclass
class FakeLLM:
    script: list[str] = field(default_factory=lambda: ["good"])
    slow_sec: float = 3.0
    retry_after: str = "0"  # the Retry-After header of a 429
    formats: frozenset[str] = ALL_FORMATS
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_behaviour(self) -> str:
        answered = [r for r in self.requests if r.answered != "format-refused"]
        index = min(len(answered), len(self.script) - 1)
        return self.script[index]

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw)
                kind = Request("", {}, body, "", 0).format
                behaviour = fake.next_behaviour() if kind in fake.formats else "format-refused"
                fake.requests.append(
                    Request(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        behaviour,
                        time.monotonic(),
                    )
                )
                if behaviour == "format-refused":
                    detail = "Input should be 'text' or 'json_object'"
                    self._send(500, {"error": {"message": detail, "type": "internal"}})
                    return
                if behaviour == "slow":
                    time.sleep(fake.slow_sec)
                    behaviour = "good"
                if behaviour in ("429", "500", "400", "401"):
                    error = {"error": {"message": f"scripted {behaviour}", "type": "test"}}
                    self._send(int(behaviour), error)
                    return
                user = body["messages"][-1]["content"]
                good = json.dumps(GOOD_ANSWER, ensure_ascii=False)
                content = {
                    "good": lambda: good,
                    "malformed": lambda: '{"is_sales_dialogue": true, "upsell_attempted": ',
                    "off-schema": lambda: json.dumps({"verdict": "yes"}),
                    "bad-quote": lambda: good.replace("к ним может быть", "а вот к ним"),
                    "too-long": lambda: good.replace("Назовите", "Назовите " + "очень " * 200),
                    "fenced": lambda: f"Вот разбор:\n```json\n{good}\n```\nГотово.",
                    "gullible": lambda: json.dumps(gullible(user), ensure_ascii=False),
                }[behaviour]()
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
