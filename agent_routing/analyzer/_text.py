"""The learnable text analyzer: hashed words of the prompt and recent context, prompt length,
per-category rates and the feature model's score, combined by a logistic regression fit on
outcome labels: the *gain* of the strong model over the weak one (`train --data`) or its
*benefit* (duels); see :mod:`agent_routing.analyzer._text_training`.

    score = sigmoid(intercept + text_logit + sum_j weight_j * (dense_j - mean_j) / scale_j)

- **text**: lowercased words, numbers (as `#<digits>`) and maths/code marks of the prompt's
  first 2,000 and last 500 characters, unigrams and bigrams, plus unigrams of the last two
  history messages' final 1,000 characters (prefixed `c:`), hashed with CRC-32 into
  2^`bits` buckets; the bucket counts are L2-normalised and `text_logit` is their dot
  product with the learned bucket weights (only non-zero weights are stored). The window
  and context sizes are model parameters (:class:`Hashing`, stored in the file).
- **dense**: `prior_logit` (the feature model's log-odds, with its context priors: the
  prior this analyzer starts from), `prompt_tokens_log`, and one column per category field
  (`category`, `call_kind`, `tool`, `profile`, `first_step`): the log-odds of the smoothed
  label rate of the request's value of that field in the training data (unseen values get
  the overall rate).

An untrained model (:func:`untrained_model`) has only `prior_logit` with weight 1, so it
scores exactly like the feature model: the learnable analyzer starts from the prior and moves
away from it only as far as the user's labels say.

The model file is JSON (never pickle) with `format` and `format_version` checked at load;
any mismatch raises :class:`~agent_routing.analyzer._model.ModelFormatError` naming the file
and the field; so does hashing this code does not compute. Scoring is vectorised with numpy
and bounded by the window (nothing proportional to 2^bits is allocated per call); fitting
uses scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
_TOKEN_SPEC = {
    "hash": "crc32",
    "ngrams": [1, 2],
    "bigram": "(crc(a) * 0x9E3779B1) ^ crc(b)",
    "tokens": _TOKEN.pattern,
    "numbers": "#<digit count>",
    "norm": "l2",
}  # what this code computes; a file that says otherwise is refused (never misread)
MAX_WINDOW_CHARS = 20_000  # bound on a file's head + tail and context chars (bounded cost)
MAX_CONTEXT_MESSAGES = 8


def _tokens(text: str) -> list[str]:
    """Raw tokens; numbers are normalised to `#<digit count>` when hashed (:func:`word_hash`)."""
    return _TOKEN.findall(text.lower())


def _window(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[len(text) - tail :]


_WORD_HASHES_LIMIT = 200_000
_GOLDEN = 0x9E3779B1


class _HashMemo(dict[str, int]):
    """token -> CRC-32 of `prefix + token`, a number as `prefix + #<digit count>`.

    Memoised and bounded (cleared when full): a lookup of a known token is one C-level dict
    access, so a prompt's hashes come from `map(memo.__getitem__, tokens)` without a Python
    loop; an unknown token is hashed once by `__missing__`.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, word: str) -> int:
        if len(self) >= _WORD_HASHES_LIMIT:
            self.clear()
        normal = f"#{len(word)}" if word[:1].isdigit() else word
        value = self[word] = zlib.crc32(f"{self.prefix}{normal}".encode())
        return value


_WORD_HASHES = _HashMemo("")
_CONTEXT_HASHES = _HashMemo("c:")
_HASH_KEYS: dict[int, str] = {}


def word_hash(word: str) -> int:
    """CRC-32 of a token's UTF-8 bytes, a number as `#<digit count>` (memoised); a context
    word is `c:<word>` (:func:`context_hash`)."""
    if word.startswith("c:"):
        return _CONTEXT_HASHES[word[2:]]
    return _WORD_HASHES[word]


def context_hash(word: str) -> int:
    """The hash of a context word, `word_hash("c:" + word)` (memoised by the bare word)."""
    return _CONTEXT_HASHES[word]


@dataclass(frozen=True, slots=True)
class Hashing:
    """Which text the buckets are read from (a model file records the values it was fit with)."""

    bits: int = DEFAULT_BITS
    head_chars: int = HEAD_CHARS
    tail_chars: int = TAIL_CHARS
    context_messages: int = CONTEXT_MESSAGES
    context_chars: int = CONTEXT_CHARS


DEFAULT_HASHING = Hashing()


def _hash_array(tokens: list[str], memo: _HashMemo) -> Any:
    import numpy as np

    return np.fromiter(map(memo.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def text_buckets(request: AnalysisRequest, hashing: Hashing = DEFAULT_HASHING) -> Any:
    """Every bucket the request's text falls into, repeats included (a uint64 numpy array).

    A unigram's bucket is its CRC-32 modulo 2^bits; a bigram's is
    `(crc(a) * 0x9E3779B1 XOR crc(b))` modulo 2^bits (exact in uint64: both factors are
    below 2^32); a context word is hashed as `c:<word>`. Cost: one regex pass over at most
    head + tail prompt characters and messages x chars context characters, one C-level dict
    lookup per token, and a few numpy operations on arrays of the token count.
    """
    import numpy as np

    window = _window(request.prompt, hashing.head_chars, hashing.tail_chars).lower()
    hashes = _hash_array(_TOKEN.findall(window), _WORD_HASHES)
    parts = [hashes]
    if hashes.size > 1:
        parts.append((hashes[:-1] * np.uint64(_GOLDEN)) ^ hashes[1:])
    if hashing.context_messages > 0 and request.history:
        chars = hashing.context_chars
        context = "\n".join(m[-chars:] for m in request.history[-hashing.context_messages :])
        parts.append(_hash_array(_TOKEN.findall(context.lower()), _CONTEXT_HASHES))
    buckets = np.concatenate(parts)
    buckets &= np.uint64((1 << hashing.bits) - 1)
    return buckets


def bucket_counts(buckets: Any) -> tuple[Any, Any, float]:
    """(distinct buckets ascending, their counts, the L2 norm of the counts)."""
    import numpy as np

    distinct, counts = np.unique(buckets, return_counts=True)
    return distinct, counts, math.sqrt(float(np.dot(counts, counts)))


def hashed_counts(
    request: AnalysisRequest, bits: int = DEFAULT_BITS, hashing: Hashing | None = None
) -> dict[int, float]:
    """L2-normalised bucket counts of the request's text (the `text` part of the model).

    `hashing` defaults to :data:`DEFAULT_HASHING` with `bits`; see :func:`text_buckets`.
    """
    if hashing is None:
        hashing = DEFAULT_HASHING if bits == DEFAULT_BITS else Hashing(bits=bits)
    distinct, counts, norm = bucket_counts(text_buckets(request, hashing))
    if norm == 0.0:
        return {}
    scale = 1.0 / norm
    pairs = zip(distinct.tolist(), counts.tolist(), strict=True)
    return {bucket: count * scale for bucket, count in pairs}


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

    hashing: Hashing
    text_weights: Mapping[int, float]
    dense: tuple[DenseSpec, ...]
    rates: Mapping[str, Mapping[str, float]]  # field -> value -> log-odds of the label rate
    default_rates: Mapping[str, float]  # field -> log-odds of the overall rate
    intercept: float
    score_quantiles: tuple[float, ...]
    model_version: str
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def bits(self) -> int:
        """The text is hashed into 2^bits buckets."""
        return self.hashing.bits

    @cached_property
    def _weight_table(self) -> tuple[Any, Any]:
        """(non-zero buckets ascending, their weights) as numpy arrays, built once per model."""
        import numpy as np

        buckets = np.array(sorted(self.text_weights), dtype=np.uint64)
        weights = np.array([self.text_weights[b] for b in buckets.tolist()], dtype=np.float64)
        return buckets, weights

    def text_logit(self, distinct: Any, counts: Any, norm: float) -> float:
        """The text part of the log-odds from :func:`bucket_counts` output (vectorised:
        one binary search of the request's distinct buckets in the model's non-zero ones)."""
        import numpy as np

        buckets, weights = self._weight_table
        if norm == 0.0 or buckets.size == 0:
            return 0.0
        found = np.searchsorted(buckets, distinct)
        found[found == buckets.size] = 0
        hit = buckets[found] == distinct
        return float(np.dot(weights[found[hit]], counts[hit])) / norm

    def dense_values(
        self,
        prior_logit: float,
        prompt_tokens_log: float,
        request: AnalysisRequest,
        categories: Mapping[str, str] | None = None,
    ) -> dict[str, float]:
        """The dense inputs of one request, by name (`categories`: its
        :func:`request_categories`, when already computed)."""
        values = {"prior_logit": prior_logit, "prompt_tokens_log": prompt_tokens_log}
        if categories is None:
            categories = request_categories(request)
        for name, value in categories.items():
            table = self.rates.get(name, {})
            values[f"rate:{name}"] = table.get(value, self.default_rates.get(name, 0.0))
        return values

    def logit(self, counts: Mapping[int, float], dense: Mapping[str, float]) -> tuple[float, float]:
        """(total log-odds, the text part of it) for bucket counts and dense values."""
        get = self.text_weights.get
        text = sum(get(bucket, 0.0) * value for bucket, value in counts.items())
        return self.dense_logit(dense) + text, text

    def dense_logit(self, dense: Mapping[str, float]) -> float:
        """The intercept plus the dense inputs' part of the log-odds."""
        total = self.intercept
        for spec in self.dense:
            total += spec.weight * (dense[spec.name] - spec.mean) / spec.scale
        return total


def _logit(probability: float) -> float:
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def compute_version(document: Mapping[str, Any]) -> str:
    """`tm1-` and a hash of the parameters (same parameters, same version)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "tm1-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _parameters(
    hashing: Hashing,
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
            "bits": hashing.bits,
            "ngrams": [1, 2],
            "bigram": "(crc(a) * 0x9E3779B1) ^ crc(b)",
            "tokens": _TOKEN.pattern,
            "numbers": "#<digit count>",
            "window": [hashing.head_chars, hashing.tail_chars],
            "context": {
                "messages": hashing.context_messages,
                "chars": hashing.context_chars,
                "prefix": "c:",
            },
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
    hashing: Hashing = DEFAULT_HASHING,
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
        hashing,
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
            model.hashing,
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


def _whole(value: Any, where: str, source: str, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise _fail(source, where, f"must be a whole number from 0 to {top}, got {value!r}")
    return value


def _parse_hashing(raw: Mapping[str, Any], source: str) -> Hashing:
    """The file's hashing parameters; anything this code does not compute is refused."""
    retrain = "a model fit by another version (retrain with `agent-routing train --data FILE`)"
    for key, expected in _TOKEN_SPEC.items():
        if raw.get(key) != expected:
            raise _fail(
                source, f"hashing.{key}", f"expected {expected!r}, got {raw.get(key)!r}: {retrain}"
            )
    bits = raw.get("bits")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= 24:
        raise _fail(source, "hashing.bits", f"must be a whole number from 8 to 24, got {bits!r}")
    window, context = raw.get("window"), raw.get("context")
    if not isinstance(window, list) or len(window) != 2:
        raise _fail(source, "hashing.window", f"must be [head chars, tail chars], got {window!r}")
    if not isinstance(context, dict) or context.get("prefix") != "c:":
        raise _fail(
            source, "hashing.context", f"must be {{messages, chars, prefix: 'c:'}}: {context!r}"
        )
    head = _whole(window[0], "hashing.window[0]", source, MAX_WINDOW_CHARS)
    tail = _whole(window[1], "hashing.window[1]", source, MAX_WINDOW_CHARS - head)
    messages = context.get("messages")
    chars = context.get("chars")
    return Hashing(
        bits=bits,
        head_chars=head,
        tail_chars=tail,
        context_messages=_whole(messages, "hashing.context.messages", source, MAX_CONTEXT_MESSAGES),
        context_chars=_whole(chars, "hashing.context.chars", source, MAX_WINDOW_CHARS),
    )


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
    hashing = _parse_hashing(_object(data, "hashing", source), source)
    bits = hashing.bits
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
        hashing=hashing,
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
        """Score `request`; `features` holds the prior's features, the dense inputs and, with
        `record_text`, the hashed text buckets (`hash:<bucket>`, what a refit from the ledger
        trains on).

        The text part is vectorised (:func:`text_buckets`, :func:`bucket_counts`,
        :meth:`TextModel.text_logit`); nothing proportional to 2^bits is allocated per call.
        """
        model = self.model
        prior = self.prior.analyze(request)
        categories = request_categories(request)
        dense = model.dense_values(
            _logit(prior.score),
            float(prior.features.get("prompt_tokens_log", 0.0)),
            request,
            categories,
        )
        distinct, counts, norm = bucket_counts(text_buckets(request, model.hashing))
        text = model.text_logit(distinct, counts, norm)
        contributions = [("text", text)] + [
            (spec.name, spec.weight * (dense[spec.name] - spec.mean) / spec.scale)
            for spec in model.dense
        ]
        ranked = sorted(
            (pair for pair in contributions if pair[1] != 0.0),
            key=lambda pair: abs(pair[1]),
            reverse=True,
        )
        features: dict[str, float] = dict(prior.features)
        features.update(dense)
        for name, value in categories.items():
            features[f"{CATEGORY_FEATURE_PREFIX}{name}={value}"] = 1.0
        if self.record_text and norm > 0.0:
            values = (counts * (1.0 / norm)).tolist()
            features.update(zip(map(hash_key, distinct.tolist()), values, strict=True))
        return Analysis(
            score=sigmoid(model.dense_logit(dense) + text),
            features=features,
            top_features=tuple((name, round(value, 4)) for name, value in ranked[: self.top_k]),
            model_version=model.model_version,
        )
