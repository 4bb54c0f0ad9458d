"""The text analyzer's vectorised scoring: documented hashing, file-borne windows, labels."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path

import pytest

from agent_routing.analyzer import ComplexityAnalyzer, ModelFormatError
from agent_routing.analyzer._text import (
    DenseSpec,
    Hashing,
    TextAnalyzer,
    hashed_counts,
    load_text_model,
    make_text_model,
    model_to_dict,
    save_text_model,
    untrained_model,
)
from agent_routing.analyzer._text_training import (
    BENEFIT,
    GAIN,
    GAIN_DESCRIPTION,
    fit_text_model,
    gain_label,
    row_from_request,
    score_rows,
    train_text_file,
)
from agent_routing.errors import ConfigError
from agent_routing.protocols import AnalysisRequest

LONG = " ".join(
    f"step {i}: solve x^2 + {i} = 0, then explain why (see [ref] #{i})" for i in range(90)
)
HISTORY = ("the oldest message is never read", "a 1st reply: 42 apples" * 80, "c: last one 7 x")
TOPICS = ["prove the lemma about primes", "name a colour", "list three fruits", "sum 2 and 3"]


def reference_counts(prompt: str, history: tuple[str, ...], bits: int = 16) -> dict[int, float]:
    """The bucket counts as the model file documents them, written out plainly."""
    token = re.compile(r"[a-z]+|\d+|[$^=\\{}+*/<>%?()\[\]#:]")
    window = prompt if len(prompt) <= 2500 else prompt[:2000] + "\n" + prompt[-500:]

    def crc(word: str, prefix: str = "") -> int:
        normal = f"#{len(word)}" if word[0].isdigit() else word
        return zlib.crc32((prefix + normal).encode())

    hashes = [crc(word) for word in token.findall(window.lower())]
    mask = (1 << bits) - 1
    buckets = [h & mask for h in hashes]
    buckets += [((a * 0x9E3779B1) ^ b) & mask for a, b in itertools.pairwise(hashes)]
    for message in history[-2:]:
        buckets += [crc(w, "c:") & mask for w in token.findall(message[-1000:].lower())]
    counts = Counter(buckets)
    norm = math.sqrt(sum(c * c for c in counts.values()))
    return {bucket: count / norm for bucket, count in counts.items()}


def trained_model(rows: int = 80, hashing: Hashing | None = None):  # type: ignore[no-untyped-def]
    """A model whose label is 'the prompt asks for a proof' (category alternating)."""
    prior = ComplexityAnalyzer()
    examples = [
        row_from_request(
            AnalysisRequest(prompt=f"{TOPICS[i % 4]} case {i}", category="ab"[i % 2]),
            float(i % 4 == 0),
            prior,
            hashing=hashing,
        )
        for i in range(rows)
    ]
    return fit_text_model(examples, hashing=hashing)


@pytest.mark.parametrize("bits", [8, 16, 24])
def test_buckets_are_the_documented_hashing(bits: int) -> None:
    """Unigrams, bigrams and context words land in exactly the buckets the file describes."""
    for prompt, history in ((LONG, HISTORY), ("Ünïcode 12ab34 ٣٤ x", ()), ("", ("only context",))):
        got = hashed_counts(AnalysisRequest(prompt=prompt, history=history), bits)
        want = reference_counts(prompt, history, bits)
        assert got.keys() == want.keys()
        assert all(got[b] == pytest.approx(want[b], rel=1e-12) for b in want)
    assert hashed_counts(AnalysisRequest(prompt="  ... ")) == {}


def test_vectorised_scores_equal_training_row_scores() -> None:
    """analyze() (numpy path) scores like score_rows() on the same rows; buckets recorded."""
    model = trained_model()
    analyzer = TextAnalyzer(model, record_text=True)
    prior = ComplexityAnalyzer()
    for prompt, history in ((LONG, HISTORY), ("prove the lemma", ()), ("", ()), ("zzz qqq", ())):
        request = AnalysisRequest(prompt=prompt, history=history, category="a")
        analysis = analyzer.analyze(request)
        row = row_from_request(request, 0.0, prior)
        assert analysis.score == pytest.approx(float(score_rows(model, [row])[0]), abs=1e-12)
        recorded = {int(k[5:]): v for k, v in analysis.features.items() if k.startswith("hash:")}
        assert recorded == pytest.approx(dict(row.counts))
    quiet = TextAnalyzer(model, record_text=False).analyze(AnalysisRequest(prompt=LONG))
    assert not any(k.startswith("hash:") for k in quiet.features)


def test_a_model_file_brings_its_own_text_window(tmp_path: Path) -> None:
    """A model fit on a 40-character head reads only that head, also after a reload."""
    hashing = Hashing(head_chars=40, tail_chars=0, context_messages=0)
    path = tmp_path / "short.json"
    save_text_model(trained_model(hashing=hashing), path)
    model = load_text_model(path)
    assert model.hashing == hashing
    assert model_to_dict(model)["hashing"]["window"] == [40, 0]
    analyzer = TextAnalyzer(model)
    head = "prove the lemma about primes case 1 and "
    base = analyzer.analyze(AnalysisRequest(prompt=head + "x" * 10, history=("colour",)))
    for tail in ("name a colour " * 20, "list three fruits " * 30):
        other = analyzer.analyze(AnalysisRequest(prompt=head + tail, history=(tail,)))
        assert dict(other.top_features).get("text") == dict(base.top_features).get("text")
    default = TextAnalyzer(trained_model())
    first = default.analyze(AnalysisRequest(prompt=head + "x" * 10))
    second = default.analyze(AnalysisRequest(prompt=head + "name a colour " * 20))
    assert dict(first.top_features).get("text") != dict(second.top_features).get("text")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tokens", r"\w+"),
        ("ngrams", [1, 3]),
        ("hash", "md5"),
        ("window", [-1, 5]),
        ("window", [30_000, 0]),
        ("context", {"messages": 2, "chars": 100, "prefix": "ctx:"}),
        ("bits", 30),
    ],
)
def test_a_file_hashed_another_way_is_refused(tmp_path: Path, key: str, value: object) -> None:
    """Hashing this code does not compute is refused naming the file and the field."""
    document = model_to_dict(trained_model())
    document["hashing"] = {**document["hashing"], key: value}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFormatError) as error:
        load_text_model(path)
    where, message = error.value.problems[0]
    assert str(path) in where
    assert f"hashing.{key}" in where
    if key in ("tokens", "ngrams", "hash"):
        assert "agent-routing train --data" in message


def test_scoring_allocates_nothing_proportional_to_the_bucket_space() -> None:
    """With 2^24 buckets a call still allocates well under 1 MB (a dense vector is 128 MB)."""
    hashing = Hashing(bits=24)
    request = AnalysisRequest(prompt=LONG, history=HISTORY)
    buckets = hashed_counts(request, hashing=hashing)
    model = make_text_model(
        hashing=hashing,
        text_weights=dict.fromkeys(list(buckets)[::3], 0.5),
        dense=(DenseSpec("prior_logit", 0.0, 1.0, 1.0),),
        rates={},
        default_rates={},
        intercept=0.0,
        score_quantiles=untrained_model().score_quantiles,
    )
    analyzer = TextAnalyzer(model, record_text=False)
    assert dict(analyzer.analyze(request).top_features)["text"] > 0  # builds the lookup once
    tracemalloc.start()
    try:
        analyzer.analyze(request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_gain_label_is_the_quality_difference() -> None:
    """1 strong right / weak wrong, 0 the reverse, 0.5 a tie; probabilities and scales too."""
    assert (gain_label(0, 1), gain_label(1, 0), gain_label(1, 1), gain_label(0, 0)) == (
        1.0, 0.0, 0.5, 0.5,
    )  # fmt: skip
    assert gain_label(0.25, 0.75) == pytest.approx(0.75)
    assert (gain_label(3, 7), gain_label(7, 3), gain_label(5, 5)) == (1.0, 0.0, 0.5)


WINS_TIES_LOSSES = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (0, 1)}
WINS_AND_TIES = {0: (1, 1), 1: (0, 1), 2: (0, 1), 3: (0, 0)}  # wins on the short prompts


def write_outcomes(
    path: Path, rows: int = 240, outcomes: dict[int, tuple[int, int]] = WINS_TIES_LOSSES
) -> Path:
    """(weak, strong) per topic; by default proofs and sums: strong wins; colours: both
    right; fruits: strong loses."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "weak_score", "strong_score"])
        for i in range(rows):
            weak, strong = outcomes[i % 4]
            writer.writerow([f"{TOPICS[i % 4]} (item {i})", weak, strong])
    return path


def test_file_training_learns_where_the_strong_model_is_worse(tmp_path: Path) -> None:
    """The gain label ranks wins > ties > losses; the benefit label cannot tell losses apart."""
    data = write_outcomes(tmp_path / "outcomes.csv")
    gain_model, held_out = train_text_file(data)
    assert gain_model.training["label"] == GAIN_DESCRIPTION
    assert gain_model.training["benefit_share"] == pytest.approx(0.5)
    assert held_out["apgr_text"] > held_out["apgr_length"]
    low, high = held_out["apgr_text_ci"]
    assert low <= held_out["apgr_text"] <= high

    def score(model, topic: int) -> float:  # type: ignore[no-untyped-def]
        request = AnalysisRequest(prompt=f"{TOPICS[topic]} (item 999)")
        return TextAnalyzer(model).analyze(request).score

    win, tie, loss = score(gain_model, 0), score(gain_model, 1), score(gain_model, 2)
    assert win > tie > loss
    benefit_model, _ = train_text_file(data, label=BENEFIT)
    assert score(benefit_model, 0) > score(benefit_model, 2)
    assert abs(score(benefit_model, 1) - score(benefit_model, 2)) < (tie - loss) / 2
    assert GAIN != BENEFIT


def test_unknown_label_and_ties_only_are_refused(tmp_path: Path) -> None:
    """An unknown label names `label`; a file of ties only (every gain 0.5) names `data`."""
    data = write_outcomes(tmp_path / "outcomes.csv")
    with pytest.raises(ConfigError) as error:
        train_text_file(data, label="magic")
    assert error.value.problems[0][0] == "label"
    ties = tmp_path / "ties.csv"
    ties.write_text("prompt,weak_score,strong_score\n" + "".join(f"q{i},0,0\n" for i in range(40)))
    with pytest.raises(ConfigError) as error:
        train_text_file(ties)
    assert error.value.problems[0][0] == "data"


def test_train_prints_the_held_out_intervals(tmp_path: Path) -> None:
    """`train --data` prints 95 % bootstrap intervals beside the held-out APGR figures."""
    from click.testing import CliRunner

    from agent_routing.cli import main

    data = write_outcomes(tmp_path / "outcomes.csv", rows=400, outcomes=WINS_AND_TIES)
    _, held_out = train_text_file(data)
    assert held_out["text_minus_length_ci"][0] > 0.0  # clearly better than length, not noise
    out = tmp_path / "model.json"
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "95 % bootstrap intervals: text " in result.output
    assert "text - length +" in result.output
