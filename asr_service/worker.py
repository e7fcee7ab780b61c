"""The pull loop: lease asr-requests no faster than they are worked on, ack after commit.

Synchronous (unary) pull, not streaming pull: the worker asks for exactly as many
messages as it has free places (`BATCH_SIZE` leased at most), so nothing waits in a
client buffer while a GPU is busy, and every ack, nack and lease extension is one unary
call that has reached Pub/Sub when it returns. A thread pool bounds the dialogues
transcribed at once (`ASR_CONCURRENCY`); a lease thread extends the deadline of every
leased message while it waits or is transcribed. (The Pub/Sub emulator never notices a
streaming-pull client going away: its gRPC server fails on the stream reset, so the dead
stream kept receiving messages and a restarted worker was starved; the soak run found it.)

On SIGTERM no more messages are pulled, leased messages not yet started are nacked,
in-flight dialogues get `ASR_SHUTDOWN_GRACE_SEC` to finish, then are interrupted between
segments, put back to QUEUED and nacked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage
from sqlalchemy.exc import SQLAlchemyError

from asr_service import jobs
from asr_service.engine import Engine
from asr_service.health import Metrics
from asr_service.transcribe import Interrupted
from salescontrol import backlog, messages
from salescontrol.config import Settings
from salescontrol.dialogues import AsrStatus
from salescontrol.errors import BadInput, TransientError
from salescontrol.events import Message
from salescontrol.messages import AsrRequest

log = logging.getLogger(__name__)

TRANSIENT_PAUSE_SEC = 2.0  # after a failure of the database, storage or Pub/Sub
IDLE_PAUSE_SEC = 0.5  # after a pull that found nothing (the emulator answers at once)
PULL_TIMEOUT_SEC = 5.0  # one pull's longest wait (real Pub/Sub holds an empty pull open)
LEASE_SEC = 60  # each leased message's deadline, renewed every LEASE_RENEW_SEC
LEASE_RENEW_SEC = 10.0
SETTLE_AFTER_ABORT_SEC = 15.0  # interrupted dialogues stop between segments


class Worker:
    """Pulls asr-requests until `stop()`; `run()` returns once leased work is settled."""

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics | None = None):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.stopping = threading.Event()  # no new messages; leased, unstarted ones nacked
        self.abort = threading.Event()  # interrupt transcriptions in progress
        self.pulling = False
        self.failed = False  # pulling stopped on an error (e.g. the subscription is gone)
        self._subscriber: pubsub_v1.SubscriberClient | None = None
        self._path = ""
        self._leased: set[str] = set()  # ack ids not yet acked or nacked
        self._queued: list[tuple[Future, ReceivedMessage]] = []  # handed to the pool
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)

    def stop(self) -> None:
        self.stopping.set()

    def handle(self, received: ReceivedMessage) -> None:
        """One leased message, acked or nacked before returning."""
        pulled = received.message
        msg = Message(pulled.message_id, dict(pulled.attributes), pulled.data)
        ids = {"message_id": msg.message_id, "delivery_attempt": received.delivery_attempt}
        if self.stopping.is_set():
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
                    lambda r=request, e=exc: jobs.mark(r.dialogue_id, AsrStatus.FAILED, e.reason)
                )
            self.metrics.add(failed=1)
            self._ack(received)
        except Interrupted as exc:
            log.warning("transcription interrupted by shutdown; nacked", extra=ids)
            assert request is not None
            self._failed(request, exc, transient=True)  # not the dialogue's fault
            self._settle(lambda r=request: jobs.mark(r.dialogue_id, AsrStatus.QUEUED))
            self.metrics.add(retried=1)
            self._nack(received)
        except (TransientError, SQLAlchemyError, gexc.GoogleAPIError) as exc:
            log.warning("asr request will be retried: %s", exc, extra=ids)
            self.metrics.add(retried=1)
            outage = backlog.is_transient(exc) or isinstance(exc, gexc.GoogleAPIError)
            if self._failed(request, exc, outage):
                self._ack(received)
                return
            self.abort.wait(TRANSIENT_PAUSE_SEC)  # an outage: do not spin on redeliveries
            self._nack(received)
        except Exception as exc:
            log.exception("unexpected error; nacked (FAILED after MAX_ATTEMPTS)", extra=ids)
            self.metrics.add(retried=1)
            if self._failed(request, exc, transient=False):
                self._ack(received)
            else:
                self._nack(received)
        else:
            self._ack(received)
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

    # --- leases -------------------------------------------------------------------------

    def _ack(self, received: ReceivedMessage) -> None:
        """Acknowledge; if that fails the message comes again, and the DONE row makes the
        redelivery a no-op."""
        try:
            self._call(lambda s: s.acknowledge(subscription=self._path, ack_ids=[received.ack_id]))
        except gexc.GoogleAPIError as exc:
            log.warning("ack failed, the message will come again: %s", exc)
        finally:
            self._release(received.ack_id)

    def _nack(self, received: ReceivedMessage) -> None:
        """Give a message back now (ModifyAckDeadline 0); if that fails, it comes back
        when its lease runs out."""
        try:
            self._modack([received.ack_id], 0)
        except gexc.GoogleAPIError as exc:
            log.warning("nack failed, the message comes back after its lease: %s", exc)
        finally:
            self._release(received.ack_id)

    def _modack(self, ack_ids: list[str], seconds: int) -> None:
        self._call(
            lambda s: s.modify_ack_deadline(
                subscription=self._path, ack_ids=ack_ids, ack_deadline_seconds=seconds
            )
        )

    def _call(self, rpc: Callable[[pubsub_v1.SubscriberClient], object]) -> None:
        assert self._subscriber is not None
        rpc(self._subscriber)

    def _release(self, ack_id: str) -> None:
        with self._lock:
            self._leased.discard(ack_id)
            self._settled.notify_all()

    def _free(self) -> int:
        with self._lock:
            return max(0, self.settings.batch_size - len(self._leased))

    def _keep_leases(self, done: threading.Event) -> None:
        """Extend the deadline of every leased message until `done`."""
        while not done.wait(LEASE_RENEW_SEC):
            with self._lock:
                ack_ids = sorted(self._leased)
            if not ack_ids:
                continue
            try:
                self._modack(ack_ids, LEASE_SEC)
            except gexc.GoogleAPIError as exc:
                log.warning("could not extend %d leases: %s", len(ack_ids), exc)

    def _failed(self, request: AsrRequest | None, exc: Exception, transient: bool) -> bool:
        """Record a failed attempt; True when the dialogue is now FAILED for good."""
        if request is None:
            return False
        try:
            reason = jobs.failed(request.dialogue_id, exc, transient)
        except (SQLAlchemyError, BadInput) as error:
            log.warning("could not record the failed attempt: %s", error)
            return False
        if reason:
            log.error("asr gave up: %s", reason, extra={"dialogue_id": request.dialogue_id})
            self.metrics.add(failed=1)
        return reason is not None

    def _settle(self, action: Callable[[], None]) -> None:
        """Record a status; a database outage (or an id that names no row) must not stop
        the ack/nack that follows."""
        try:
            action()
        except (SQLAlchemyError, BadInput) as exc:
            log.warning("could not record the asr status: %s", exc)

    # --- the loop -----------------------------------------------------------------------

    def _pull(self, pool: ThreadPoolExecutor) -> None:
        """Lease as many messages as there are free places and hand them to the pool."""
        free = self._free()
        if not free:
            with self._settled:
                self._settled.wait(IDLE_PAUSE_SEC)
            return
        try:
            answer = self._subscriber.pull(  # type: ignore[union-attr]
                subscription=self._path, max_messages=free, timeout=PULL_TIMEOUT_SEC
            )
        except gexc.DeadlineExceeded:
            return
        except gexc.GoogleAPIError as exc:
            if isinstance(exc, gexc.NotFound):
                raise  # the subscription is gone: the operator must know
            log.warning("pull failed, retrying: %s", exc)
            self.stopping.wait(TRANSIENT_PAUSE_SEC)
            return
        if not answer.received_messages:
            self.stopping.wait(IDLE_PAUSE_SEC)
            return
        late = []
        with self._lock:  # against `_stop_queued`: nothing is handed over once stopping
            self._queued = [(f, r) for f, r in self._queued if not f.done()]
            for received in answer.received_messages:
                if self.stopping.is_set():
                    late.append(received)
                    continue
                self._leased.add(received.ack_id)
                self._queued.append((pool.submit(self.handle, received), received))
        for received in late:
            self._nack(received)

    def _pull_loop(self, pool: ThreadPoolExecutor) -> None:
        try:
            while not self.stopping.is_set():
                self._pull(pool)
        except Exception:
            log.exception("pulling stopped")
            self.failed = True
            self.stopping.set()

    def _stop_queued(self) -> None:
        """Nack the leased messages the pool has not started."""
        with self._lock:
            queued = list(self._queued)
        for future, received in queued:
            if future.cancel():
                self._nack(received)

    def _wait_settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._leased and time.monotonic() < deadline:
                self._settled.wait(max(0.0, deadline - time.monotonic()))
            return not self._leased

    def run(self) -> None:
        """Pull until stopped; then settle leased messages within the grace period.

        The pulls run in a thread of their own: a pull waits in gRPC, where the main
        thread would not run the SIGTERM handler until it returned."""
        self._subscriber = subscriber = pubsub_v1.SubscriberClient()
        self._path = subscriber.subscription_path(
            self.settings.google_cloud_project, self.settings.asr_subscription
        )
        pool = ThreadPoolExecutor(self.settings.asr_concurrency, thread_name_prefix="asr")
        leases_done = threading.Event()
        leases = threading.Thread(target=self._keep_leases, args=(leases_done,), name="leases")
        puller = threading.Thread(target=self._pull_loop, args=(pool,), name="pull")
        leases.start()
        puller.start()
        self.pulling = True
        log.info("pulling", extra={"subscription": self._path})
        while not self.stopping.wait(0.5):
            pass
        self.pulling = False
        started = time.monotonic()
        self._stop_queued()
        pool.shutdown(wait=False)
        if not self._wait_settled(self.settings.asr_shutdown_grace_sec):
            self.abort.set()
            self._wait_settled(SETTLE_AFTER_ABORT_SEC)
        puller.join(PULL_TIMEOUT_SEC + 5)
        leases_done.set()
        leases.join()
        subscriber.close()
        log.info("stopped", extra={"shutdown_sec": round(time.monotonic() - started, 2)})
