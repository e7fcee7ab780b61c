"""The emulator holds exactly what topology.yaml describes."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.cloud import pubsub_v1

from devkit.local import provision
from devkit.waiting import poll_until
from salescontrol import topology


def test_every_topic_and_subscription_exists_with_its_dead_letter(stack, stack_env) -> None:
    topo = topology.load()
    project = stack_env["GOOGLE_CLOUD_PROJECT"]
    publisher = pubsub_v1.PublisherClient()
    topics = {
        t.name.rsplit("/", 1)[1] for t in publisher.list_topics(project=f"projects/{project}")
    }
    assert set(topo.all_topics) <= topics
    with pubsub_v1.SubscriberClient() as subscriber:
        for sub in topo.subscriptions.values():
            got = subscriber.get_subscription(
                subscription=subscriber.subscription_path(project, sub.name)
            )
            assert got.topic.endswith(f"/topics/{sub.topic}")
            assert got.dead_letter_policy.dead_letter_topic.endswith(
                f"/topics/{sub.dead_letter_topic}"
            )
            assert got.ack_deadline_seconds == sub.ack_deadline_sec
            target = topo.push_target(sub.name)
            attempts = got.dead_letter_policy.max_delivery_attempts
            if target is None:
                assert got.push_config.push_endpoint == ""
                assert attempts == sub.max_delivery_attempts
                assert got.retry_policy.maximum_backoff.seconds == sub.max_backoff_sec
            else:  # the emulator's retry policy strands pushes (provision.py)
                assert got.push_config.push_endpoint == stack.url(target.name) + "/"
                assert attempts == provision.EMULATOR_PUSH_MAX_DELIVERY_ATTEMPTS
                assert not type(got).pb(got).HasField("retry_policy")
            dead = subscriber.get_subscription(
                subscription=subscriber.subscription_path(project, sub.dead_letter_topic)
            )
            assert dead.topic.endswith(f"/topics/{sub.dead_letter_topic}")


def test_function_triggers_name_real_subscriptions() -> None:
    topo = topology.load()
    for function in topo.functions.values():
        assert function.trigger == "http" or function.trigger in topo.subscriptions
    assert {n.topic for n in topo.notifications} <= set(topo.topics)


@pytest.mark.slow
@pytest.mark.emulator
def test_a_push_subscription_delivers_everything_after_its_endpoint_failed(stack_env) -> None:
    """A push subscription as the local stack makes it, to an endpoint answering 500 for
    20 s: every message arrives once the endpoint recovers, none is dead-lettered."""
    project, tag = stack_env["GOOGLE_CLOUD_PROJECT"], uuid.uuid4().hex[:8]
    failing_until = time.monotonic() + 20
    delivered: set[str] = set()

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ok = time.monotonic() > failing_until
            if ok:
                delivered.add(body["message"]["data"])
            self.send_response(204 if ok else 500)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sub = dataclasses.replace(
        topology.load().subscriptions["vad"],
        name=f"test-push-{tag}",
        topic=f"test-push-{tag}",
        dead_letter_topic=f"test-push-dead-{tag}",
    )
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, sub.topic)
    dead_topic = publisher.topic_path(project, sub.dead_letter_topic)
    dead = subscriber.subscription_path(project, sub.dead_letter_topic)
    try:
        publisher.create_topic(name=topic)
        publisher.create_topic(name=dead_topic)
        subscriber.create_subscription(name=dead, topic=dead_topic)
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
        subscriber.create_subscription(
            request=provision.subscription_request(project, sub, endpoint)
        )
        sent = {publisher.publish(topic, f"m{i}".encode()).result() for i in range(20)}
        poll_until(lambda: len(delivered) >= len(sent), 60, 0.5, "every message delivered")
        assert len(delivered) == len(sent)
        assert not subscriber.pull(subscription=dead, max_messages=10, timeout=5).received_messages
    finally:
        subscriber.delete_subscription(subscription=f"projects/{project}/subscriptions/{sub.name}")
        subscriber.delete_subscription(subscription=dead)
        publisher.delete_topic(topic=topic)
        publisher.delete_topic(topic=dead_topic)
        subscriber.close()
        publisher.stop()
        server.shutdown()
        server.server_close()
