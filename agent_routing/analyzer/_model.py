"""The analyzer's model: a logistic score over named features, kept in a small JSON file.

    score = sigmoid(intercept + sum_j weight_j * (value_j - mean_j) / scale_j)

Each term `weight_j * (value_j - mean_j) / scale_j` is that feature's signed contribution to
the log-odds, which is what `Analysis.top_features` reports. Features whose weight was fit on
data say `"source": "learned"`; context features the shared data cannot teach carry a
documented prior (`"source": "prior"`, mean 0, scale 1, a `why`) until a refit from the
user's own outcomes replaces it.

The file is JSON, never pickle: it is readable, diffable and safe to load. It records the
format version, the feature names in order, the scaler and weights, and how it was made
(sklearn version, seed, data file hashes, metrics). Loading checks all of that against the
features this code computes and raises :class:`ModelFormatError` on any mismatch. Scoring
needs neither scikit-learn nor numpy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from agent_routing.analyzer._features import FEATURE_NAMES
from agent_routing.errors import ConfigError

FORMAT_NAME = "agent-routing/complexity-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_RESOURCE = "model.json"
SIGNIFICANT_DIGITS = 12  # numbers are rounded so that rebuilt files are byte-identical

Source = Literal["learned", "prior"]
SOURCES: tuple[Source, ...] = ("learned", "prior")


class ModelFormatError(ConfigError):
    """A model file (or in-memory model) that this code cannot use, naming the bad field."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input: how it is standardised and weighted, and where the weight came from.

    `direction` is the sign the weight is allowed to take when learned (+1 / -1, 0 = free).
    """

    name: str
    mean: float
    scale: float
    weight: float
    source: Source = "learned"
    direction: int = 0
    why: str = ""


@dataclass(frozen=True)
class AnalyzerModel:
    """A validated, immutable analyzer model. Build with :func:`make_model` or load a file."""

    features: tuple[FeatureSpec, ...]
    intercept: float
    model_version: str
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    # Precomputed for fast scoring: weight / scale per feature, and the constant term.
    _factors: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _offsets: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_factors", tuple(f.weight / f.scale for f in self.features))
        object.__setattr__(self, "_offsets", tuple(f.mean for f in self.features))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Input feature names in model order."""
        return tuple(f.name for f in self.features)

    def contributions(self, values: Sequence[float]) -> list[float]:
        """Each feature's signed contribution to the log-odds, in model order."""
        return [
            factor * (value - offset)
            for factor, value, offset in zip(self._factors, values, self._offsets, strict=True)
        ]

    def logit(self, values: Sequence[float]) -> float:
        """Log-odds of the score for one feature vector in model order."""
        return self.intercept + sum(self.contributions(values))


def sigmoid(value: float) -> float:
    """The logistic function, safe for large magnitudes."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def round_number(value: float) -> float:
    """`value` rounded to SIGNIFICANT_DIGITS (stable JSON, no spurious last-bit changes)."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if value else 0.0


def _parameters(features: Sequence[FeatureSpec], intercept: float) -> dict[str, Any]:
    return {
        "intercept": round_number(intercept),
        "features": [
            {
                "name": f.name,
                "source": f.source,
                "direction": f.direction,
                "mean": round_number(f.mean),
                "scale": round_number(f.scale),
                "weight": round_number(f.weight),
                **({"why": f.why} if f.why else {}),
            }
            for f in features
        ],
    }


def compute_version(features: Sequence[FeatureSpec], intercept: float) -> str:
    """A version id derived from the parameters alone (same parameters, same id)."""
    canonical = json.dumps(_parameters(features, intercept), sort_keys=True)
    return "cm1-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def make_model(
    features: Sequence[FeatureSpec],
    intercept: float,
    *,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> AnalyzerModel:
    """A validated model with rounded parameters and its content-derived version."""
    rounded = tuple(
        FeatureSpec(
            name=f.name,
            mean=round_number(f.mean),
            scale=round_number(f.scale),
            weight=round_number(f.weight),
            source=f.source,
            direction=f.direction,
            why=f.why,
        )
        for f in features
    )
    intercept = round_number(intercept)
    model = AnalyzerModel(
        features=rounded,
        intercept=intercept,
        model_version=compute_version(rounded, intercept),
        training=dict(training or {}),
        metrics=dict(metrics or {}),
    )
    validate_model(model)
    return model


def validate_model(model: AnalyzerModel) -> None:
    """Raise ModelFormatError unless the model fits the features this code computes."""
    names = model.feature_names
    if names != FEATURE_NAMES:
        missing = [n for n in FEATURE_NAMES if n not in names]
        unknown = [n for n in names if n not in FEATURE_NAMES]
        detail = f"missing {missing}, unknown {unknown}" if missing or unknown else "wrong order"
        raise ModelFormatError.single(
            "model.features", f"feature list does not match this version's features: {detail}"
        )
    if not math.isfinite(model.intercept):
        raise ModelFormatError.single("model.intercept", f"not a finite number: {model.intercept}")
    for index, spec in enumerate(model.features):
        where = f"model.features[{index}] ({spec.name})"
        for attribute in ("mean", "scale", "weight"):
            value = getattr(spec, attribute)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ModelFormatError.single(f"{where}.{attribute}", f"not a number: {value!r}")
        if spec.scale <= 0:
            raise ModelFormatError.single(f"{where}.scale", f"must be positive, got {spec.scale}")
        if spec.source not in SOURCES:
            raise ModelFormatError.single(f"{where}.source", f"must be one of {SOURCES}")
        if spec.direction not in (-1, 0, 1):
            raise ModelFormatError.single(f"{where}.direction", "must be -1, 0 or 1")


def model_to_dict(model: AnalyzerModel) -> dict[str, Any]:
    """The JSON document of `model` (keys in a fixed, readable order)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_version": model.model_version,
        "score": "sigmoid(intercept + sum(weight * (value - mean) / scale))",
        **_parameters(model.features, model.intercept),
        "training": model.training,
        "metrics": model.metrics,
    }


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ModelFormatError.single(f"{where}.{key}", "missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelFormatError.single(f"{where}.{key}", f"wrong type: {value!r}")
    return value


def model_from_dict(data: Any) -> AnalyzerModel:
    """Parse and validate a model document; ModelFormatError names the bad field."""
    if not isinstance(data, dict):
        raise ModelFormatError.single("model", "must be a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise ModelFormatError.single(
            "model.format", f"expected {FORMAT_NAME!r}, got {data.get('format')!r}"
        )
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError.single(
            "model.format_version",
            f"this version reads format {FORMAT_VERSION}, got {data.get('format_version')!r}",
        )
    number = (int, float)
    specs: list[FeatureSpec] = []
    for index, raw in enumerate(_require(data, "features", list, "model")):
        where = f"model.features[{index}]"
        if not isinstance(raw, dict):
            raise ModelFormatError.single(where, "must be an object")
        source = raw.get("source", "learned")
        if source not in SOURCES:
            raise ModelFormatError.single(f"{where}.source", f"must be one of {SOURCES}")
        specs.append(
            FeatureSpec(
                name=_require(raw, "name", str, where),
                mean=float(_require(raw, "mean", number, where)),
                scale=float(_require(raw, "scale", number, where)),
                weight=float(_require(raw, "weight", number, where)),
                source=source,
                direction=int(raw.get("direction", 0)),
                why=str(raw.get("why", "")),
            )
        )
    model = AnalyzerModel(
        features=tuple(specs),
        intercept=float(_require(data, "intercept", number, "model")),
        model_version=_require(data, "model_version", str, "model"),
        training=_require(data, "training", dict, "model"),
        metrics=_require(data, "metrics", dict, "model"),
    )
    validate_model(model)
    return model


def model_json(model: AnalyzerModel) -> str:
    """The exact text written by :func:`save_model` (stable for identical models)."""
    return json.dumps(model_to_dict(model), indent=1, ensure_ascii=False) + "\n"


def save_model(model: AnalyzerModel, path: Path) -> None:
    """Write `model` as JSON to `path` (atomically: a reader never sees half a file)."""
    validate_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(model_json(model), encoding="utf-8")
    partial.replace(path)


def load_model(path: Path) -> AnalyzerModel:
    """Read and validate a model file; ModelFormatError names what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelFormatError.single(
            "model_path", f"cannot read {str(path)!r}: {error.strerror}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFormatError.single("model_path", f"{str(path)!r} is not JSON: {error}") from None
    return model_from_dict(data)


@functools.cache
def load_default_model() -> AnalyzerModel:
    """The model shipped inside the package (loaded once)."""
    text = (
        resources.files("agent_routing.analyzer")
        .joinpath(DEFAULT_MODEL_RESOURCE)
        .read_text(encoding="utf-8")
    )
    return model_from_dict(json.loads(text))
