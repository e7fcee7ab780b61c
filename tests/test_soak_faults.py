"""The fault injectors of the load run, each against its own throwaway local stack."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.admin import AdminClient
from devkit.local.stack import LocalStack
from devkit.soak import faults
from devkit.waiting import poll_until
from salescontrol import pubsub


@pytest.fixture(scope="module")
def own_stack() -> Iterator[LocalStack]:
    """A stack of its own: these tests kill its parts."""
    workdir = Path(tempfile.mkdtemp(prefix="salescontrol-faults-"))
    running = LocalStack(workdir, ingest_port=0, echo=lambda line: None)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("OPENAI_API_KEY", "ANALYZER", "DATABASE_URL"):
            patch.delenv(name, raising=False)
        running.start()
    yield running
    running.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def poll(check, timeout: float = 60.0):
    return poll_until(check, timeout)


def admin(stack: LocalStack, method: str, path: str, **kwargs) -> requests.Response:
    return AdminClient(stack.url("ingest"), stack.admin_token).admin(method, path, **kwargs)


def test_killed_function_is_restarted_and_serves(own_stack) -> None:
    before = next(s.proc.pid for s in own_stack.services if s.name == "ingest")
    fault = faults.kill_process(own_stack, "ingest")
    after = next(s.proc.pid for s in own_stack.services if s.name == "ingest")
    # Python and the framework take well over 0.3 s to start: less means the old socket.
    assert after != before and fault.recovery_sec > 0.3
    own_stack.check_alive()
    assert poll(lambda: _ok(own_stack.url("ingest") + "/health"))


def test_postgres_restart_keeps_the_data_and_clients_reconnect(own_stack) -> None:
    body = {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
    }
    assert admin(own_stack, "POST", "/api/v1/admin/devices", json=body).status_code == 201
    fault = faults.restart_postgres(own_stack)
    assert fault.kind == "postgres_restart" and fault.recovery_sec > 0
    path = f"/api/v1/admin/devices/{body['device_id']}"
    # The function's pooled connections died with the server: 503s, then answers again.
    answer = poll(lambda: (r := admin(own_stack, "GET", path)).status_code != 503 and [r])[0]
    assert answer.status_code == 200, answer.text
    assert answer.json()["device_id"] == body["device_id"]


def test_push_endpoint_errors_then_duplicates(own_stack, monkeypatch) -> None:
    for key, value in own_stack.env.items():
        monkeypatch.setenv(key, value)
    pubsub.publisher.cache_clear()
    target = own_stack.url("analyze")
    with faults.FaultProxy(target, faults.ERROR) as proxy:
        with faults.push_through(own_stack, "analyze", proxy):
            pubsub.publish("transcripts-ready", {"dialogue_id": str(uuid.uuid4()), "force": False})
            poll(lambda: proxy.counts.get(faults.ERROR, 0) >= 1)
            proxy.mode = faults.DUPLICATE  # the endpoint recovers; redelivery goes twice
            poll(lambda: sum(v for k, v in proxy.counts.items() if k.startswith("forwarded_")) >= 2)
        forwarded = {k: v for k, v in proxy.counts.items() if k.startswith("forwarded_")}
        assert all(int(k.split("_")[1]) < 500 for k in forwarded), forwarded
    pubsub.publisher.cache_clear()


def test_device_network_down_then_up(own_stack) -> None:
    with faults.FaultProxy(own_stack.url("ingest"), faults.DOWN) as network:
        with pytest.raises(requests.ConnectionError):
            requests.get(network.url + "/health", timeout=5)
        network.mode = faults.PASS
        assert requests.get(network.url + "/health", timeout=5).json() == {"status": "healthy"}


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def test_duplicator_publishes_each_message_once_more(own_stack) -> None:
    from google.cloud import pubsub_v1

    from devkit.local.provision import using_env

    with using_env(own_stack.env):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(own_stack.project, "soak-duplicator-test")
    watch = subscriber.subscription_path(own_stack.project, "soak-duplicator-watch")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=watch, topic=topic)
    duplicator = faults.Duplicator(own_stack, "soak-duplicator-test")
    try:
        publisher.publish(topic, b'{"n": 1}', origin="test").result(30)
        seen = []

        def pulled() -> bool:
            answer = subscriber.pull(subscription=watch, max_messages=10, timeout=5)
            for received in answer.received_messages:
                seen.append(received.message)
                subscriber.acknowledge(subscription=watch, ack_ids=[received.ack_id])
            return len(seen) >= 2

        poll(pulled, timeout=30)
        time.sleep(2)  # a copy of the copy would arrive by now
        pulled()
    finally:
        duplicator.close()
        subscriber.close()
        publisher.stop()
    assert [m.data for m in seen] == [b'{"n": 1}'] * 2
    assert sorted(faults.Duplicator.MARK in m.attributes for m in seen) == [False, True]
    assert all(m.attributes["origin"] == "test" for m in seen)
    assert duplicator.copies == 1
