"""The pieces of `bench/analyzer_variants.py` that the documented "What we tried" rests on."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
from bench_support import loaded_bench


@pytest.fixture(scope="module")
def variants() -> Iterator[ModuleType]:
    """The bench script loaded as a module."""
    with loaded_bench("analyzer_variants") as module:
        yield module


def test_rasch_fit_orders_items_like_the_share_wrong(variants: ModuleType) -> None:
    """Rasch item difficulties follow the share of models failing, and abilities the models.

    This is why the documented `label 2pl` / Rasch variants could not change the order much:
    with every model answering every item, the Rasch difficulty is a function of the count
    of wrong answers.
    """
    rng = np.random.default_rng(0)
    ability = np.linspace(-1.5, 1.5, 8)
    truth = rng.normal(0.0, 1.0, 200)
    outcomes = (rng.random((200, 8)) < 1 / (1 + np.exp(-(ability - truth[:, None])))).astype(float)
    d, theta, a = variants.fit_irt(outcomes, np.ones_like(outcomes), two_pl=False)
    wrong = 1 - outcomes.mean(axis=1)
    # Same count of wrong answers -> same difficulty; more wrong -> higher difficulty.
    order = np.argsort(wrong, kind="stable")
    assert np.all(np.diff(d[order]) >= -1e-6)
    assert np.all(np.diff(theta) > -0.3)  # abilities recovered in order (up to sampling noise)
    assert theta[-1] - theta[0] > 2.0
    assert np.allclose(a, 1.0)


def test_prompt_words_reads_the_analyzer_window_without_numbers(variants: ModuleType) -> None:
    """Word features see what `text_features` sees: lower case, no digits, bounded window."""
    words = variants.prompt_words("Compute the Integral of x^2, 42 times. " + "pad " * 2000 + "END")
    assert {"compute", "integral", "the", "times", "end", "pad"} <= words
    assert "42" not in words
    assert "x" not in words  # one-letter tokens carry no meaning
    far = variants.prompt_words("start " + "filler " * 2000 + "middleword " + "filler " * 400)
    assert "middleword" not in far  # outside the head and tail windows
