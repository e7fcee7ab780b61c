"""The rush-hour corpus: harder shop recordings than the demo morning, with their truth.

A register at a busy hour: one seller close to the microphone, a queue of customers
(espeak-ng Russian variants and festival pitched and tempo-shifted; quieter, reverberant,
band-limited), 3-8 s between customers and a few hundred ms of overlap between replies,
a radio (announcer, ads, news; band-limited, low) between and under dialogues, music and
shop noise throughout. Offers phrased without cue words, a customer asking for an add-on
herself, service questions. Every recording is made from a seed, so the corpus is code.

- `voices`: who speaks, how and from where (festival / espeak-ng, sox rooms);
- `scripts`: what they say (dialogues with their truth, the radio's talk);
- `layout`: one recording and its truth from a seed;
- `python -m devkit.rushhour [--split dev|test] [--out DIR]` writes `rushhour_<seed>.ogg`
  and `rushhour_<seed>.truth.json` for each seed of a split.

Splits: `DEV_SEEDS` are the recordings every threshold of segmentation, background speech
and roles was tuned on; `TEST_SEEDS` are frozen: nothing was tuned on them, and their
figures in BENCHMARKS.md say so. Both draw their dialogues from `scripts.SCRIPTS`, so the
upsell rules, written with those dialogues in view, are measured on `HELDOUT_SEEDS`:
recordings made the same way from dialogues written blind to the rules (`heldout`).
Once the held-out recordings' misses had been read to change rules, `UNSEEN_SEEDS` took
their place: 28 more dialogues by another blind author (`unseen`); once those were read,
`sealed` (a third author), and after it `reserve`, `vault`, `cellar`, `attic`, `loft`, `den`,
`annex` and `shed`; `probe` was written the same way to be read from the start (a diagnostic set).
`layout.BLIND_SETS` lists them; each module says what its recordings were read for (`READ`).
"""

from __future__ import annotations

from devkit.rushhour import heldout, sealed, unseen
from devkit.rushhour.layout import BLIND_SETS, Recording, blind_name, generate, write

DEV_SEEDS = tuple(range(11, 21))
TEST_SEEDS = (21, 22, 23)
HELDOUT_SEEDS = heldout.SEEDS
UNSEEN_SEEDS = unseen.SEEDS
SEALED_SEEDS = sealed.SEEDS
SPLITS = {
    "dev": DEV_SEEDS,
    "test": TEST_SEEDS,
    **{blind_name(blind): blind.SEEDS for blind in BLIND_SETS},
}

__all__ = [
    "BLIND_SETS",
    "DEV_SEEDS",
    "HELDOUT_SEEDS",
    "SEALED_SEEDS",
    "SPLITS",
    "TEST_SEEDS",
    "UNSEEN_SEEDS",
    "Recording",
    "generate",
    "write",
]
