"""The rush-hour corpus generator and the queue split on it, without the stack."""

from __future__ import annotations

import numpy as np
import pytest

from devkit import evaluation, rushhour
from devkit.rushhour import heldout, layout, offline, scripts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recording() -> rushhour.Recording:
    return rushhour.generate(rushhour.DEV_SEEDS[4], minutes=3.0)


def test_a_seed_gives_the_same_recording_and_a_valid_truth(recording) -> None:
    again = rushhour.generate(rushhour.DEV_SEEDS[4], minutes=3.0)
    assert np.array_equal(recording.audio, again.audio)
    truth = evaluation.parse_truth(recording.truth)
    assert len(truth.dialogues) >= 4 and truth.background
    gaps = [b.start - a.end for a, b in zip(truth.dialogues, truth.dialogues[1:], strict=False)]
    assert min(gaps) < 8.0  # a queue, not the demo's 20 s of quiet
    for d in truth.dialogues:
        assert {t.role for t in d.turns} == {"seller", "customer"}
    assert not set(rushhour.DEV_SEEDS) & set(rushhour.TEST_SEEDS)


def test_the_queue_is_split_per_customer_and_the_radio_is_dropped(recording) -> None:
    truth = evaluation.parse_truth(recording.truth)
    figures = offline.score(truth, offline.run(recording.audio))
    assert figures["segmentation_f1"] >= 0.9
    assert figures["dialogues_from_background"] == 0
    assert figures["background_sec"] > 0
    assert figures["role_accuracy"] >= 0.9


def test_held_out_seeds_draw_on_dialogues_the_rules_were_not_written_from() -> None:
    for seed in rushhour.HELDOUT_SEEDS:
        assert layout.scripts_for(seed) is heldout.SCRIPTS
    for seed in rushhour.DEV_SEEDS + rushhour.TEST_SEEDS:
        assert layout.scripts_for(seed) is scripts.SCRIPTS
    assert not set(rushhour.HELDOUT_SEEDS) & set(rushhour.DEV_SEEDS + rushhour.TEST_SEEDS)
    assert not {s.lines for s in heldout.SCRIPTS} & {s.lines for s in scripts.SCRIPTS}
    labels = {(s.kind, s.upsell_attempted) for s in heldout.SCRIPTS}
    assert labels == {("sale", True), ("sale", False), ("other", False)}


@pytest.mark.parametrize("blind", layout.BLIND_SETS[1:], ids=layout.blind_name)
def test_each_later_blind_set_has_seeds_and_dialogues_of_its_own(blind) -> None:
    for seed in blind.SEEDS:
        assert layout.scripts_for(seed) is blind.SCRIPTS
    assert rushhour.SPLITS[layout.blind_name(blind)] == blind.SEEDS
    sets = [scripts, *layout.BLIND_SETS]
    others = [s for s in sets if s is not blind and s is not scripts]
    assert not set(blind.SEEDS) & {x for s in others for x in s.SEEDS}
    assert not set(blind.SEEDS) & set(rushhour.DEV_SEEDS + rushhour.TEST_SEEDS)
    assert not {s.lines for s in blind.SCRIPTS} & {
        s.lines for other in sets if other is not blind for s in other.SCRIPTS
    }
    labels = [(s.kind, s.upsell_attempted, s.accepted) for s in blind.SCRIPTS]
    assert labels.count(("sale", True, True)) == 8 and labels.count(("sale", True, False)) == 6
