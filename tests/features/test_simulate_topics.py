"""The simulated world's words: topics apart from one another, brands at home, captions on topic."""

from __future__ import annotations

import numpy as np

from features.simulate_topics import BRANDS, GENERIC, SENTENCES_PER_TOPIC, TOPICS, sentence_pool


def test_topics_share_no_word_and_every_brand_has_a_home_topic() -> None:
    words = [set(vocab) for vocab in TOPICS.values()]
    assert sum(len(w) for w in words) == len(set().union(*words))
    assert not set(GENERIC) & set().union(*words)
    assert set(BRANDS.values()) <= set(TOPICS)


def test_captions_are_on_their_topic_and_the_same_seed_gives_the_same_pool() -> None:
    pool, names = sentence_pool(np.random.default_rng(0))
    assert names == list(TOPICS)
    assert pool.shape == (len(TOPICS), SENTENCES_PER_TOPIC)
    for t, name in enumerate(names):
        for caption in pool[t, :20]:
            tags = [w for w in caption.split() if w.startswith("#")]
            assert len(tags) == 2
            assert {w.removeprefix("#") for w in tags} <= set(TOPICS[name])
            assert set(caption.replace("#", "").split()) <= set(TOPICS[name]) | set(GENERIC)
    again, _ = sentence_pool(np.random.default_rng(0))
    assert (again == pool).all()
