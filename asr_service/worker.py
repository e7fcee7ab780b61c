"""The streaming-pull loop: lease asr-requests with flow control, ack after commit.

Follows python-pubsub's subscriber sample: one SubscriberClient, flow control bounding
the leased messages (BATCH_SIZE), a thread pool bounding the dialogues transcribed at
once (ASR_CONCURRENCY). On SIGTERM the stream is cancelled (no new messages), in-flight
dialogues get ASR_SHUTDOWN_GRACE_SEC to finish, then are interrupted between segments,
put back to QUEUED and nacked; leased but unstarted messages are nacked by the library.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.message import Message as PubsubMessage
from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler
from sqlalchemy.exc import SQLAlchemyError

from asr_service import jobs
from asr_service.engine import Engine
from asr_service.health import Metrics
from asr_service.transcribe import Interrupted
from salescontrol import messages
from salescontrol.config import Settings
from salescontrol.errors import BadInput, TransientError
from salescontrol.events import Message
from salescontrol.messages import AsrRequest

log = logging.getLogger(__name__)

TRANSIENT_PAUSE_SEC = 2.0


class Worker:
    """Pulls asr-requests until `stop()`; `run()` returns once in-flight work is settled."""

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics | None = None):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.stopping = threading.Event()  # no new messages
        self.abort = threading.Event()  # interrupt transcriptions in progress
        self.pulling = False
        self._subscriber: pubsub_v1.SubscriberClient | None = None
        self._path = ""

    def stop(self) -> None:
        self.stopping.set()

    def handle(self, received: PubsubMessage) -> None:
        """Subscriber callback: one message, acked or nacked before returning."""
        msg = Message(received.message_id, dict(received.attributes), received.data)
        ids = {"message_id": msg.message_id, "delivery_attempt": received.delivery_attempt}
        if self.abort.is_set():
            self._nack(received)
            return
        self.metrics.add(in_flight=1)
        request = None
        try:
            request = messages.parse(AsrRequest, msg)
            ids["dialogue_id"] = request.dialogue_id
            outcome = jobs.process(request, self.engine, self.abort)
        except BadInput as exc:
            if request is None:  # a malformed payload: keep it in the log, it has no row
                ids["data"] = msg.data[:1000].decode("utf-8", errors="replace")
            log.error("asr request failed: %s", exc.reason, extra=ids)
            if request is not None:
                self._settle(
                    lambda r=request, e=exc: jobs.mark(r.dialogue_id, jobs.FAILED, e.reason)
                )
            self.metrics.add(failed=1)
            received.ack()
        except Interrupted:
            log.warning("transcription interrupted by shutdown; nacked", extra=ids)
            assert request is not None
            self._settle(lambda r=request: jobs.mark(r.dialogue_id, jobs.QUEUED))
            self.metrics.add(retried=1)
            self._nack(received)
        except (TransientError, SQLAlchemyError, gexc.GoogleAPIError) as exc:
            log.warning("asr request will be retried: %s", exc, extra=ids)
            self.metrics.add(retried=1)
            self.abort.wait(TRANSIENT_PAUSE_SEC)  # an outage: do not spin on redeliveries
            self._nack(received)
        except Exception:
            log.exception(
                "unexpected error; nacked (dead-lettered after repeated failures)", extra=ids
            )
            self.metrics.add(retried=1)
            self._nack(received)
        else:
            received.ack()
            if outcome.transcript is None:
                self.metrics.add(skipped=1)
                log.info("dialogue already transcribed; acked", extra=ids)
            else:
                t = outcome.transcript
                self.metrics.add(
                    processed=1, audio_sec=t.audio_sec, processing_sec=t.processing_sec
                )
                log.info(
                    "dialogue transcribed",
                    extra={**ids, "audio_sec": t.audio_sec, "processing_sec": t.processing_sec},
                )
        finally:
            self.metrics.add(in_flight=-1)

    def _nack(self, received: PubsubMessage) -> None:
        """Give a message back now, with a unary ModifyAckDeadline(0).

        The library's nack() is queued to its dispatcher, whose stream is already closed
        at shutdown; with the Pub/Sub emulator such a message was not offered again for
        at least 40 s. The unary call has reached Pub/Sub when it returns.
        """
        try:
            assert self._subscriber is not None
            self._subscriber.modify_ack_deadline(
                subscription=self._path, ack_ids=[received.ack_id], ack_deadline_seconds=0
            )
        except (AssertionError, gexc.GoogleAPIError):
            received.nack()

    def _settle(self, action: Callable[[], None]) -> None:
        """Record a status; a database outage must not stop the ack/nack that follows."""
        try:
            action()
        except SQLAlchemyError as exc:
            log.warning("could not record the asr status: %s", exc)

    def run(self) -> None:
        """Pull until stopped; then settle in-flight messages within the grace period."""
        self._subscriber = subscriber = pubsub_v1.SubscriberClient()
        self._path = path = subscriber.subscription_path(
            self.settings.google_cloud_project, self.settings.asr_subscription
        )
        flow = pubsub_v1.types.FlowControl(max_messages=self.settings.batch_size)
        pool = ThreadPoolExecutor(self.settings.asr_concurrency, thread_name_prefix="asr")
        with subscriber:
            future = subscriber.subscribe(
                path,
                self.handle,
                flow_control=flow,
                scheduler=ThreadScheduler(pool),
                await_callbacks_on_shutdown=True,
            )
            self.pulling = True
            log.info("pulling", extra={"subscription": path})
            while not self.stopping.wait(0.5):
                if future.done():  # the stream died for good (e.g. subscription deleted)
                    self.pulling = False
                    future.result()
            self.pulling = False
            started = time.monotonic()
            future.cancel()
            try:
                future.result(timeout=self.settings.asr_shutdown_grace_sec)
            except FutureTimeout:
                self.abort.set()
                future.result(timeout=15)
            except Exception:  # the stream's own error is not news at shutdown
                pass
            log.info("stopped", extra={"shutdown_sec": round(time.monotonic() - started, 2)})
