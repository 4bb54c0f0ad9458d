"""The learnable text analyzer: hashed words of the prompt and recent context, prompt length,
per-category rates and the feature model's score, combined by a logistic regression fit on the
*benefit* of the strong model (strong right where the weak one is wrong).

    score = sigmoid(intercept + text_logit + sum_j weight_j * (dense_j - mean_j) / scale_j)

- **text**: lowercased words, numbers (as `#<digits>`) and maths/code marks of the prompt's
  first 2,000 and last 500 characters, unigrams and bigrams, plus unigrams of the last two
  history messages' final 1,000 characters (prefixed `c:`), hashed with CRC-32 into
  2^`bits` buckets; the bucket counts are L2-normalised and `text_logit` is their dot
  product with the learned bucket weights (only non-zero weights are stored).
- **dense**: `prior_logit` (the feature model's log-odds, with its context priors: the
  prior this analyzer starts from), `prompt_tokens_log`, and one column per category field
  (`category`, `call_kind`, `tool`, `profile`, `first_step`): the log-odds of the smoothed
  benefit rate of the request's value of that field in the training data (unseen values get
  the overall rate).

An untrained model (:func:`untrained_model`) has only `prior_logit` with weight 1, so it
scores exactly like the feature model: the learnable analyzer starts from the prior and moves
away from it only as far as the user's labels say.

The model file is JSON (never pickle) with `format` and `format_version` checked at load;
any mismatch raises :class:`~agent_routing.analyzer._model.ModelFormatError` naming the file
and the field. Scoring is plain Python (no numpy); fitting uses scikit-learn.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_routing.analyzer._model import (
    AnalyzerModel,
    ModelFormatError,
    load_default_model,
    round_number,
    sigmoid,
)
from agent_routing.analyzer._scoring import ComplexityAnalyzer, feature_model_quantiles
from agent_routing.analyzer.quantiles import QUANTILE_LEVELS, valid_table
from agent_routing.config import CallKind
from agent_routing.protocols import Analysis, AnalysisRequest

FORMAT_NAME = "agent-routing/text-analyzer"
FORMAT_VERSION = 1
DEFAULT_BITS = 16
HEAD_CHARS = 2000
TAIL_CHARS = 500
CONTEXT_MESSAGES = 2
CONTEXT_CHARS = 1000
CATEGORY_FIELDS: tuple[str, ...] = ("category", "call_kind", "tool", "profile", "first_step")
DENSE_BASE: tuple[str, ...] = ("prior_logit", "prompt_tokens_log")
DENSE_FEATURES: tuple[str, ...] = DENSE_BASE + tuple(f"rate:{name}" for name in CATEGORY_FIELDS)
RATE_SMOOTHING = 10.0  # pseudo-rows of the overall rate added to each category's rate
HASH_FEATURE_PREFIX = "hash:"  # recorded text buckets in Analysis.features (for refits)
CATEGORY_FEATURE_PREFIX = "cat:"  # recorded category values, `cat:<field>=<value>`: 1.0

_TOKEN = re.compile(r"[a-z]+|\d+|[$^=\\{}+*/<>%?()\[\]#:]")  # words, numbers, math/code marks


def _tokens(text: str) -> list[str]:
    """Raw tokens; numbers are normalised to `#<digit count>` when hashed (:func:`word_hash`)."""
    return _TOKEN.findall(text.lower())


def _window(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


_WORD_HASHES: dict[str, int] = {}
_WORD_HASHES_LIMIT = 200_000
_HASH_KEYS: dict[int, str] = {}
_GOLDEN = 0x9E3779B1


def word_hash(word: str) -> int:
    """CRC-32 of a token's UTF-8 bytes, a number as `#<digit count>` (memoised)."""
    value = _WORD_HASHES.get(word)
    if value is None:
        if len(_WORD_HASHES) >= _WORD_HASHES_LIMIT:
            _WORD_HASHES.clear()
        bare = word[2:] if word.startswith("c:") else word
        normal = f"{word[: len(word) - len(bare)]}#{len(bare)}" if bare[:1].isdigit() else word
        value = _WORD_HASHES[word] = zlib.crc32(normal.encode())
    return value


_CONTEXT_HASHES: dict[str, int] = {}


def context_hash(word: str) -> int:
    """The hash of a context word, `word_hash("c:" + word)` (memoised by the bare word)."""
    value = _CONTEXT_HASHES.get(word)
    if value is None:
        if len(_CONTEXT_HASHES) >= _WORD_HASHES_LIMIT:
            _CONTEXT_HASHES.clear()
        value = _CONTEXT_HASHES[word] = word_hash(f"c:{word}")
    return value


def hashed_counts(request: AnalysisRequest, bits: int = DEFAULT_BITS) -> dict[int, float]:
    """L2-normalised bucket counts of the request's text (the `text` part of the model).

    A unigram's bucket is its CRC-32 modulo 2^bits; a bigram's is
    `(crc(a) * 0x9E3779B1 XOR crc(b))` modulo 2^bits; a context word is hashed as `c:<word>`.
    """
    mask = (1 << bits) - 1
    get = _WORD_HASHES.get
    hashes = [get(word) or word_hash(word) for word in _tokens(_window(request.prompt))]
    buckets = [value & mask for value in hashes]
    buckets += [((a * _GOLDEN) ^ b) & mask for a, b in itertools.pairwise(hashes)]
    context = _CONTEXT_HASHES.get
    for message in request.history[-CONTEXT_MESSAGES:]:
        buckets += [
            (context(w) or context_hash(w)) & mask for w in _tokens(message[-CONTEXT_CHARS:])
        ]
    counts = Counter(buckets)
    norm = math.sqrt(sum(value * value for value in counts.values()))
    if norm == 0.0:
        return {}
    scale = 1.0 / norm
    return {bucket: value * scale for bucket, value in counts.items()}


def hash_key(bucket: int) -> str:
    """The recorded feature name of a text bucket (`hash:<bucket>`, memoised)."""
    key = _HASH_KEYS.get(bucket)
    if key is None:
        key = _HASH_KEYS[bucket] = f"{HASH_FEATURE_PREFIX}{bucket}"
    return key


def request_categories(request: AnalysisRequest) -> dict[str, str]:
    """The request's value of each category field (rates are learned per value)."""
    kind = request.call_kind
    first = kind == CallKind.SUBORDINATE and request.iteration == 0
    return {
        "category": request.category,
        "call_kind": kind.value,
        "tool": request.tools[-1] if request.tools else "",
        "profile": request.profile,
        "first_step": "1" if first else "0",
    }


@dataclass(frozen=True, slots=True)
class DenseSpec:
    """One dense input: standardisation and weight."""

    name: str
    mean: float
    scale: float
    weight: float


@dataclass(frozen=True)
class TextModel:
    """A validated text-analyzer model (build with :func:`make_text_model` or load a file)."""

    bits: int
    text_weights: Mapping[int, float]
    dense: tuple[DenseSpec, ...]
    rates: Mapping[str, Mapping[str, float]]  # field -> value -> log-odds of the benefit rate
    default_rates: Mapping[str, float]  # field -> log-odds of the overall rate
    intercept: float
    score_quantiles: tuple[float, ...]
    model_version: str
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def dense_values(
        self, prior_logit: float, prompt_tokens_log: float, request: AnalysisRequest
    ) -> dict[str, float]:
        """The dense inputs of one request, by name."""
        values = {"prior_logit": prior_logit, "prompt_tokens_log": prompt_tokens_log}
        for name, value in request_categories(request).items():
            table = self.rates.get(name, {})
            values[f"rate:{name}"] = table.get(value, self.default_rates.get(name, 0.0))
        return values

    def logit(self, counts: Mapping[int, float], dense: Mapping[str, float]) -> tuple[float, float]:
        """(total log-odds, the text part of it) for bucket counts and dense values."""
        weights = self.text_weights
        get = weights.get
        text = sum(get(bucket, 0.0) * value for bucket, value in counts.items())
        total = self.intercept + text
        for spec in self.dense:
            total += spec.weight * (dense[spec.name] - spec.mean) / spec.scale
        return total, text


def _logit(probability: float) -> float:
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def compute_version(document: Mapping[str, Any]) -> str:
    """`tm1-` and a hash of the parameters (same parameters, same version)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "tm1-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _parameters(
    bits: int,
    *,
    text_weights: Mapping[int, float],
    dense: Sequence[DenseSpec],
    rates: Mapping[str, Mapping[str, float]],
    default_rates: Mapping[str, float],
    intercept: float,
) -> dict[str, Any]:
    buckets = sorted(text_weights)
    return {
        "hashing": {
            "hash": "crc32",
            "bits": bits,
            "ngrams": [1, 2],
            "bigram": "(crc(a) * 0x9E3779B1) ^ crc(b)",
            "tokens": _TOKEN.pattern,
            "numbers": "#<digit count>",
            "window": [HEAD_CHARS, TAIL_CHARS],
            "context": {"messages": CONTEXT_MESSAGES, "chars": CONTEXT_CHARS, "prefix": "c:"},
            "norm": "l2",
        },
        "intercept": round_number(intercept),
        "text": {
            "buckets": buckets,
            "weights": [float(f"{text_weights[b]:.6g}") for b in buckets],
        },
        "dense": [
            {
                "name": s.name,
                "mean": round_number(s.mean),
                "scale": round_number(s.scale),
                "weight": round_number(s.weight),
            }
            for s in dense
        ],
        "category_rates": {
            name: {
                "default": round_number(default_rates.get(name, 0.0)),
                "values": {k: round_number(v) for k, v in sorted(rates.get(name, {}).items())},
            }
            for name in CATEGORY_FIELDS
        },
    }


def make_text_model(
    *,
    bits: int,
    text_weights: Mapping[int, float],
    dense: Sequence[DenseSpec],
    rates: Mapping[str, Mapping[str, float]],
    default_rates: Mapping[str, float],
    intercept: float,
    score_quantiles: Sequence[float],
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> TextModel:
    """A validated model with rounded parameters and its content-derived version."""
    parameters = _parameters(
        bits,
        text_weights=text_weights,
        dense=dense,
        rates=rates,
        default_rates=default_rates,
        intercept=intercept,
    )
    return model_from_dict(
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model_version": compute_version(parameters),
            **parameters,
            "score_quantiles": list(score_quantiles),
            "training": dict(training or {}),
            "metrics": dict(metrics or {}),
        },
        source="model",
    )


def model_to_dict(model: TextModel) -> dict[str, Any]:
    """The JSON document of `model`."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_version": model.model_version,
        "score": "sigmoid(intercept + sum(text weight * l2-normalised bucket count) + "
        "sum(weight * (dense - mean) / scale))",
        **_parameters(
            model.bits,
            text_weights=model.text_weights,
            dense=model.dense,
            rates=model.rates,
            default_rates=model.default_rates,
            intercept=model.intercept,
        ),
        "score_quantiles": list(model.score_quantiles),
        "training": dict(model.training),
        "metrics": dict(model.metrics),
    }


def _fail(source: str, where: str, message: str) -> ModelFormatError:
    return ModelFormatError([(f"{source}: {where}", message)])


def _number(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(source, where, f"not a finite number: {value!r}")
    return float(value)


def _object(data: Mapping[str, Any], key: str, source: str, kind: type = dict) -> Any:
    if key not in data:
        raise _fail(source, key, "missing")
    value = data[key]
    if not isinstance(value, kind):
        raise _fail(source, key, f"must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _parse_text(text: Mapping[str, Any], bits: int, source: str) -> dict[int, float]:
    buckets, weights = text.get("buckets"), text.get("weights")
    if (
        not isinstance(buckets, list)
        or not isinstance(weights, list)
        or len(buckets) != len(weights)
    ):
        raise _fail(source, "text", "needs equally long lists `buckets` and `weights`")
    text_weights: dict[int, float] = {}
    for index, (bucket, weight) in enumerate(zip(buckets, weights, strict=True)):
        if isinstance(bucket, bool) or not isinstance(bucket, int) or not 0 <= bucket < (1 << bits):
            raise _fail(
                source, f"text.buckets[{index}]", f"not a bucket below 2^{bits}: {bucket!r}"
            )
        text_weights[bucket] = _number(weight, source, f"text.weights[{index}]")
    return text_weights


def _parse_rates(
    raw_rates: Mapping[str, Any], source: str
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    rates: dict[str, dict[str, float]] = {}
    default_rates: dict[str, float] = {}
    for name in CATEGORY_FIELDS:
        entry = raw_rates.get(name, {"default": 0.0, "values": {}})
        if not isinstance(entry, dict) or not isinstance(entry.get("values", {}), dict):
            raise _fail(source, f"category_rates.{name}", "must be {default, values}")
        default_rates[name] = _number(
            entry.get("default", 0.0), source, f"category_rates.{name}.default"
        )
        rates[name] = {
            str(key): _number(value, source, f"category_rates.{name}.values[{key!r}]")
            for key, value in entry.get("values", {}).items()
        }
    return rates, default_rates


def model_from_dict(data: Any, *, source: str = "model") -> TextModel:
    """Parse and validate a text-analyzer document; errors name `source` and the field."""
    if not isinstance(data, dict):
        raise _fail(source, "model", "must be a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise _fail(source, "format", f"expected {FORMAT_NAME!r}, got {data.get('format')!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise _fail(
            source,
            "format_version",
            f"this version reads format {FORMAT_VERSION}, got {data.get('format_version')!r} "
            "(retrain with `agent-routing train --data FILE`)",
        )
    hashing = _object(data, "hashing", source)
    bits = hashing.get("bits")
    if hashing.get("hash") != "crc32" or not isinstance(bits, int) or not 8 <= bits <= 24:
        raise _fail(source, "hashing", f"unsupported hashing parameters: {hashing!r}")
    if "text" not in data and "text_buckets" in data:
        data = {
            **data,
            "text": {"buckets": data["text_buckets"], "weights": data.get("text_weights")},
        }
    text_weights = _parse_text(_object(data, "text", source), bits, source)
    dense: list[DenseSpec] = []
    for index, raw in enumerate(_object(data, "dense", source, list)):
        where = f"dense[{index}]"
        if not isinstance(raw, dict) or raw.get("name") not in DENSE_FEATURES:
            raise _fail(source, where, f"must name one of {list(DENSE_FEATURES)}")
        spec = DenseSpec(
            name=str(raw["name"]),
            mean=_number(raw.get("mean"), source, f"{where}.mean"),
            scale=_number(raw.get("scale"), source, f"{where}.scale"),
            weight=_number(raw.get("weight"), source, f"{where}.weight"),
        )
        if spec.scale <= 0:
            raise _fail(source, f"{where}.scale", f"must be positive, got {spec.scale}")
        dense.append(spec)
    rates, default_rates = _parse_rates(_object(data, "category_rates", source), source)
    quantiles = valid_table(data.get("score_quantiles"))
    if quantiles is None:
        raise _fail(
            source,
            "score_quantiles",
            f"must be {len(QUANTILE_LEVELS)} ascending numbers in [0, 1]",
        )
    version = _object(data, "model_version", source, str)
    return TextModel(
        bits=bits,
        text_weights=text_weights,
        dense=tuple(dense),
        rates=rates,
        default_rates=default_rates,
        intercept=_number(data.get("intercept"), source, "intercept"),
        score_quantiles=quantiles,
        model_version=version,
        training=_object(data, "training", source),
        metrics=_object(data, "metrics", source),
    )


def model_json(model: TextModel) -> str:
    """The exact text :func:`save_text_model` writes (the long bucket lists on one line each)."""
    document = model_to_dict(model)
    text = document.pop("text")
    body = json.dumps(document, indent=1, ensure_ascii=False)
    compact = ",".join(
        f'\n "text_{key}": ' + json.dumps(text[key], separators=(",", ":"))
        for key in ("buckets", "weights")
    )
    return body[:-2] + "," + compact + "\n}\n"


def save_text_model(model: TextModel, path: Path) -> None:
    """Write `model` as JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(model_json(model), encoding="utf-8")
    partial.replace(path)


def read_model_document(path: Path) -> dict[str, Any]:
    """The JSON object in a model file; ModelFormatError naming the file otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelFormatError.single(
            "model_path", f"cannot read {str(path)!r}: {error.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ModelFormatError.single("model_path", f"{str(path)!r} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFormatError.single("model_path", f"{str(path)!r} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ModelFormatError.single("model_path", f"{str(path)!r} is not a JSON object")
    return data


def load_text_model(path: Path) -> TextModel:
    """Read and validate a text-analyzer file; errors name the file and the field."""
    return model_from_dict(read_model_document(path), source=str(path))


def untrained_model(prior: AnalyzerModel | None = None) -> TextModel:
    """The learnable analyzer before any training: exactly the feature model's score."""
    prior = prior or load_default_model()
    return make_text_model(
        bits=DEFAULT_BITS,
        text_weights={},
        dense=(DenseSpec("prior_logit", 0.0, 1.0, 1.0),),
        rates={},
        default_rates={},
        intercept=0.0,
        score_quantiles=feature_model_quantiles(prior),
        training={"method": "untrained: the feature model's score", "prior": prior.model_version},
    )


class TextAnalyzer:
    """The learnable analyzer (`router.analyzer: text`); see the module docstring."""

    name = "text"

    def __init__(
        self,
        model: TextModel | None = None,
        *,
        prior: ComplexityAnalyzer | None = None,
        top_k: int = 5,
        record_text: bool = True,
    ) -> None:
        self.prior = prior or ComplexityAnalyzer()
        self.model = model or untrained_model(self.prior.model)
        self.top_k = top_k
        # Recording the hashed buckets lets duel refits train on ledger rows; without duels
        # they are not needed and cost time and ledger space on every call.
        self.record_text = record_text

    @property
    def score_quantiles(self) -> tuple[float, ...]:
        """The quantiles of this model's scores over its training prompts."""
        return self.model.score_quantiles

    def analyze(self, request: AnalysisRequest) -> Analysis:
        """Score `request`; `features` holds the prior's features, the dense inputs and the
        hashed text buckets (`hash:<bucket>`, what a refit from the ledger trains on)."""
        prior = self.prior.analyze(request)
        prior_logit = _logit(prior.score)
        counts = hashed_counts(request, self.model.bits)
        dense = self.model.dense_values(
            prior_logit, float(prior.features.get("prompt_tokens_log", 0.0)), request
        )
        logit, text = self.model.logit(counts, dense)
        contributions = [("text", text)] + [
            (spec.name, spec.weight * (dense[spec.name] - spec.mean) / spec.scale)
            for spec in self.model.dense
        ]
        ranked = sorted(
            (pair for pair in contributions if pair[1] != 0.0),
            key=lambda pair: abs(pair[1]),
            reverse=True,
        )
        features: dict[str, float] = dict(prior.features)
        features.update(dense)
        features.update(
            {
                f"{CATEGORY_FEATURE_PREFIX}{k}={v}": 1.0
                for k, v in request_categories(request).items()
            }
        )
        if self.record_text:
            features.update(zip(map(hash_key, counts), counts.values(), strict=True))
        return Analysis(
            score=sigmoid(logit),
            features=features,
            top_features=tuple((name, round(value, 4)) for name, value in ranked[: self.top_k]),
            model_version=self.model.model_version,
        )
