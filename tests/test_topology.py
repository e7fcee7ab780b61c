"""The emulator holds exactly what topology.yaml describes."""

from __future__ import annotations

from google.cloud import pubsub_v1

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
            assert got.dead_letter_policy.max_delivery_attempts == sub.max_delivery_attempts
            assert got.ack_deadline_seconds == sub.ack_deadline_sec
            target = topo.push_target(sub.name)
            if target is None:
                assert got.push_config.push_endpoint == ""
            else:
                assert got.push_config.push_endpoint == stack.url(target.name) + "/"
            dead = subscriber.get_subscription(
                subscription=subscriber.subscription_path(project, sub.dead_letter_topic)
            )
            assert dead.topic.endswith(f"/topics/{sub.dead_letter_topic}")


def test_function_triggers_name_real_subscriptions() -> None:
    topo = topology.load()
    for function in topo.functions.values():
        assert function.trigger == "http" or function.trigger in topo.subscriptions
    assert {n.topic for n in topo.notifications} <= set(topo.topics)
