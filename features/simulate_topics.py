"""The simulated world's words: its topics, their vocabularies, its brands, its captions.

`simulate_world` (features.simulate) gives each account a few topics, each campaign a
brand and a topic, and each post a caption drawn from `sentence_pool`: words of its
topic's vocabulary among generic ones, and two hashtags of the topic. The relevance
features then have something real to find: captions on a campaign's topic share its
brief's words.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BRANDS", "GENERIC", "SENTENCES_PER_TOPIC", "TOPICS", "sentence_pool"]

TOPICS: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in {
        "fitness": "workout gym running protein cardio yoga squat marathon training muscle "
        "stretch hiit sneakers sweat coach",
        "beauty": "skincare makeup serum lipstick glow foundation mascara routine moisturizer "
        "blush nails hair fragrance spf toner",
        "food": "recipe dinner baking vegan pasta brunch dessert spicy kitchen chef bread coffee "
        "salad grill snack",
        "travel": "beach flight hotel backpacking island roadtrip passport mountains sunset "
        "hiking city airbnb wanderlust camping tour",
        "gaming": "stream console esports controller rpg speedrun loot fps twitch headset "
        "multiplayer quest pixel arcade raid",
        "tech": "smartphone laptop gadget review unboxing app battery camera coding ai keyboard "
        "wearable update software chip",
        "fashion": "outfit streetwear denim vintage ootd dress boots style thrift jacket runway "
        "accessories handbag tailoring knit",
        "parenting": "toddler baby family school nursery bedtime momlife dadlife playtime "
        "diapers stroller homework kids lunchbox siblings",
    }.items()
}
"""Each topic's vocabulary: captions on a topic draw their words from it."""

GENERIC: tuple[str, ...] = tuple(
    "today love new best day life happy weekend check favorite time good vibes week morning "
    "tonight friends amazing thanks link".split()
)

BRANDS: dict[str, str] = {
    "northpeak": "fitness",
    "lumiere": "beauty",
    "forkful": "food",
    "wayfarer": "travel",
    "pixelforge": "gaming",
    "voltwave": "tech",
    "threadline": "fashion",
    "littlesteps": "parenting",
    "everyday": "food",
    "stridelab": "fitness",
}
"""Brand name -> its home topic; campaigns are mostly on the brand's home topic."""

SENTENCES_PER_TOPIC = 400
"""Captions per topic in the pool that posts draw their text from."""


def sentence_pool(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Pre-built captions per topic: sampling from a pool avoids a join per post.

    Takes the simulator's random generator, which it draws from (the first draws of
    every world); returns an array of `SENTENCES_PER_TOPIC` captions per topic, one
    row per topic, and the topic names in the order of the rows.
    """
    names = list(TOPICS)
    generic = np.array(GENERIC)
    pool = np.empty((len(names), SENTENCES_PER_TOPIC), dtype=object)
    for t, name in enumerate(names):
        vocab = np.array(TOPICS[name])
        for s in range(SENTENCES_PER_TOPIC):
            words = list(rng.choice(vocab, size=rng.integers(3, 6)))
            words += list(rng.choice(generic, size=rng.integers(2, 5)))
            rng.shuffle(words)
            tags = " ".join("#" + w for w in rng.choice(vocab, size=2, replace=False))
            pool[t, s] = " ".join(words) + " " + tags
    return pool, names
