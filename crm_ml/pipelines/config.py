"""The typed configuration of a training run (``crm-ml train --config train.toml``).

One frozen dataclass per model pipeline, gathered in :class:`TrainConfig`. The defaults are
production defaults; :func:`demo_config` gives the smaller settings ``crm-ml demo`` uses to
stay quick on built-in data. A TOML file holds one table per section::

    [churn]
    horizon_days = 60
    algorithms = ["lightgbm"]

    [clv]
    horizon = 26
    discount_rate = 0.08
    margin = 0.3

Unknown keys, wrong types and impossible values raise :class:`ConfigError` naming the key
(``churn.horizon_days``) and the file.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crm_ml.errors import CrmMlError

ALGORITHMS = ("lightgbm", "random_forest")
FREQS = ("D", "W", "M", "Q")
FORECAST_ENGINES = ("statsforecast", "fast", "bagged")


class ConfigError(CrmMlError, ValueError):
    """A training configuration that cannot work: names the key (and the file, if any)."""


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"{key}: {message}")


@dataclass(frozen=True)
class ChurnConfig:
    """Churn: label horizon, held-out period, folds and the algorithms compared.

    Timeline (``as_of`` is the training day): the test snapshot is ``as_of - horizon_days``
    (its labels end at as_of), the training snapshot ``holdout_days`` before it.

    Attributes
    ----------
    horizon_days : int, default 90
        A customer churned when they do not buy in the ``horizon_days`` after a snapshot.
    holdout_days : int, optional
        Days between the training and the test snapshot (default: ``horizon_days``); at least
        ``horizon_days``, so no test label is seen in training.
    cv : int, default 5
        Calibration folds of each :class:`~crm_ml.churn.ChurnModel`.
    algorithms : tuple of str, default ("lightgbm", "random_forest")
        Compared on the test snapshot; the better one is the candidate.
    n_estimators : int, optional
        Trees of the random forest (default: the model's own choice). LightGBM picks its
        rounds by cross-validation.
    explain_sample : int, default 400
        Held-out customers a random forest is explained on for the card (LightGBM: all).
    random_state : int, default 0
    """

    horizon_days: int = 90
    holdout_days: int | None = None
    cv: int = 5
    algorithms: tuple[str, ...] = ALGORITHMS
    n_estimators: int | None = None
    explain_sample: int = 400
    random_state: int = 0

    def __post_init__(self):
        _at_least("churn.horizon_days", self.horizon_days, 1)
        if self.holdout_days is not None and self.holdout_days < self.horizon_days:
            _fail("churn.holdout_days", f"must be >= horizon_days ({self.horizon_days}) so "
                  f"that no test label is seen in training, got {self.holdout_days}")
        _at_least("churn.cv", self.cv, 2)
        if not self.algorithms or set(self.algorithms) - set(ALGORITHMS) or \
                len(set(self.algorithms)) != len(self.algorithms):
            _fail("churn.algorithms", f"one or more distinct of {list(ALGORITHMS)}, got "
                  f"{list(self.algorithms)}")
        if self.n_estimators is not None:
            _at_least("churn.n_estimators", self.n_estimators, 1)
        _at_least("churn.explain_sample", self.explain_sample, 1)

    @property
    def holdout(self) -> int:
        """Days between the training and the test snapshot."""
        return self.horizon_days if self.holdout_days is None else self.holdout_days


@dataclass(frozen=True)
class CLVConfig:
    """CLV: the models, the horizon and money terms, the validation holdout.

    Attributes
    ----------
    purchase_model : {"mbgnbd", "bgnbd", "pareto_nbd"}, default "mbgnbd"
        The CLV model's purchase model (MBG/NBD, as :class:`crm_ml.clv.CLVModel`).
    method : {"auto", "probabilistic", "hybrid"}, default "auto"
        :class:`crm_ml.clv.CLVModel`'s ``method`` (``"auto"``: the hybrid when it ranks spend
        better on a backtest inside the calibration history). A hybrid model also reads
        ``total_spend``, which batch scoring passes and ``predict_clv`` callers may give
        (:func:`crm_ml.clv.pyfunc.input_columns`).
    time_unit : {"D", "W", "M"}, default "W"
    horizon : float, default 52
        CLV horizon in periods of ``time_unit`` (52 weeks = one year).
    discount_rate : float, default 0.10
        Annual discount rate.
    margin : float, default 1.0
        Profit margin applied to spend, 0..1 (1.0 = revenue CLV).
    holdout_days : int, default 182
        Validation: calibration up to ``as_of - holdout_days``, holdout after it.
    """

    purchase_model: Literal["bgnbd", "pareto_nbd", "mbgnbd"] = "mbgnbd"
    method: Literal["probabilistic", "auto", "hybrid"] = "auto"
    time_unit: Literal["D", "W", "M"] = "W"
    horizon: float = 52.0
    discount_rate: float = 0.10
    margin: float = 1.0
    holdout_days: int = 182

    def __post_init__(self):
        if not self.horizon > 0:
            _fail("clv.horizon", f"must be > 0, got {self.horizon}")
        if not self.discount_rate >= 0:
            _fail("clv.discount_rate", f"must be >= 0, got {self.discount_rate}")
        if not 0 < self.margin <= 1:
            _fail("clv.margin", f"a share of spend in (0, 1] (0.3 for 30 %), got {self.margin}")
        _at_least("clv.holdout_days", self.holdout_days, 28)


@dataclass(frozen=True)
class ForecastConfig:
    """Sales forecast: period, grouping, horizon, intervals, engines, backtest.

    Attributes
    ----------
    freq : {"D", "W", "M", "Q"}, default "M"
    by : str or None, default "region"
        One extra series per value of this transaction column; skipped (and said so) when the
        data has no such column. None (in TOML ``""`` or ``"none"``): the overall series only.
    h : int, default 12
        Periods forecast ahead.
    level : tuple of int, default (80, 95)
        Prediction interval levels in %.
    engine : {"statsforecast", "fast", "bagged"}, default "statsforecast"
        ARIMA engine of the overall series.
    group_engine : {"statsforecast", "fast", "bagged"}, default "fast"
        ARIMA engine of the per-group series (many series: the fast engine).
    backtest_h, backtest_windows : int, default 6 and 2
        Rolling-origin backtest: windows of ``backtest_h`` periods.
    models : tuple of {"arima", "combination"}, default ("arima", "combination")
        Candidates for the overall series: each is backtested on the same windows and the
        one with the lower backtest MASE (ARIMA on a tie) is fitted, carded and
        registered; the card reports ARIMA's backtest beside a combination's.
        ``("arima",)``: ARIMA only.
    """

    freq: Literal["D", "W", "M", "Q"] = "M"
    by: str | None = "region"
    h: int = 12
    level: tuple[int, ...] = (80, 95)
    engine: Literal["statsforecast", "fast", "bagged"] = "statsforecast"
    group_engine: Literal["statsforecast", "fast", "bagged"] = "fast"
    backtest_h: int = 6
    backtest_windows: int = 2
    models: tuple[str, ...] = ("arima", "combination")

    def __post_init__(self):
        _at_least("forecast.h", self.h, 1)
        models = (self.models,) if isinstance(self.models, str) else tuple(self.models)
        if not models or any(m not in ("arima", "combination") for m in models) \
                or "arima" not in models:
            _fail("forecast.models", "'arima', optionally with 'combination' (ARIMA is "
                  f"always backtested: the card reports it), got {list(models)}")
        object.__setattr__(self, "models", models)
        if not self.level or any(not 0 < v < 100 for v in self.level):
            _fail("forecast.level", f"levels in % between 0 and 100, got {list(self.level)}")
        _at_least("forecast.backtest_h", self.backtest_h, 1)
        _at_least("forecast.backtest_windows", self.backtest_windows, 1)
        if self.by is not None and self.by.strip().lower() in ("", "none"):
            object.__setattr__(self, "by", None)  # TOML has no null: "" or "none" mean None


@dataclass(frozen=True)
class SegmentationConfig:
    """Clustering-based segments (``crm-segments``).

    Attributes
    ----------
    features : tuple of str, default ("purchase_rate", "monetary")
        Columns of :func:`crm_ml.segmentation.segmentation_features` to cluster on.
    n_segments : int or "auto", default "auto"
    k_range : (int, int), default (2, 8)
        Numbers of segments "auto" chooses from.
    holdout_share : float, default 0.2
        Customers (hashed by id) held out for the card's metrics and champion/challenger.
    stability_boots : int, default 5
        Bootstrap refits measuring stability (ARI).
    random_state : int, default 0
    """

    features: tuple[str, ...] = ("purchase_rate", "monetary")
    n_segments: int | Literal["auto"] = "auto"
    k_range: tuple[int, int] = (2, 8)
    holdout_share: float = 0.2
    stability_boots: int = 5
    random_state: int = 0

    def __post_init__(self):
        if not self.features:
            _fail("segmentation.features", "at least one feature")
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            _fail("segmentation.k_range", f"[low, high] with 2 <= low <= high, got [{lo}, {hi}]")
        if isinstance(self.n_segments, int):
            _at_least("segmentation.n_segments", self.n_segments, 2)
        if not 0 < self.holdout_share < 1:
            _fail("segmentation.holdout_share", f"between 0 and 1, got {self.holdout_share}")
        _at_least("segmentation.stability_boots", self.stability_boots, 1)

    @property
    def max_segments(self) -> int:
        """The largest number of segments the fit may choose."""
        return self.n_segments if isinstance(self.n_segments, int) else self.k_range[1]

    @property
    def min_segments(self) -> int:
        """The smallest number of segments the fit may choose."""
        return self.n_segments if isinstance(self.n_segments, int) else self.k_range[0]


@dataclass(frozen=True)
class RFMConfig:
    """RFM scores.

    Attributes
    ----------
    bins : int, default 5
        Score levels of R, F and M (1..bins).
    migration_days : int, default 90
        Segment migration is measured from this many days before as_of.
    """

    bins: int = 5
    migration_days: int = 90

    def __post_init__(self):
        _at_least("rfm.bins", self.bins, 2)
        _at_least("rfm.migration_days", self.migration_days, 1)


@dataclass(frozen=True)
class RecommendConfig:
    """Product recommendations (``crm-recommend``); the step runs only when the transactions
    carry ``product_id``.

    Timeline: the model is fitted at ``as_of - horizon_days``, evaluated on the purchases of
    the ``horizon_days`` after it (against popular items), then refitted at ``as_of``.

    Attributes
    ----------
    method : {"auto", "popular", "item_knn", "als"}, default "auto"
        :class:`crm_ml.recommend.Recommender`'s method (``"auto"``: chosen by a time-split
        backtest of ``backtest_days`` inside the fitted history).
    k : int, default 10
        Recommendations per customer in ``recommendations.csv`` and the cut-off of the
        evaluation metrics (recall@k ...).
    half_life_days : float, default 365
        Recency weighting of past purchases: a purchase this many days old counts half (the
        Recommender's tuned default, decision log 18).
    horizon_days : int, default 90
        Evaluation window after the evaluation fit.
    backtest_days : int, default 90
        Window of the automatic method choice's backtest inside the fitted history.
    segment_column : str or None, default "region"
        Customer column (``--customers``) whose popular items new customers get; skipped
        (and said so) when the data has no such column. None (in TOML ``""`` or ``"none"``):
        popular items overall.
    """

    method: Literal["auto", "popular", "item_knn", "als"] = "auto"
    k: int = 10
    half_life_days: float = 365.0
    horizon_days: int = 90
    backtest_days: int = 90
    segment_column: str | None = "region"

    def __post_init__(self):
        _at_least("recommend.k", self.k, 1)
        if not self.half_life_days > 0:
            _fail("recommend.half_life_days", f"must be > 0, got {self.half_life_days}")
        _at_least("recommend.horizon_days", self.horizon_days, 7)
        _at_least("recommend.backtest_days", self.backtest_days, 7)
        if self.segment_column is not None and \
                self.segment_column.strip().lower() in ("", "none"):
            object.__setattr__(self, "segment_column", None)


@dataclass(frozen=True)
class CampaignsConfig:
    """Campaign uplift (``crm-uplift``): runs only when campaign contacts are given.

    Attributes
    ----------
    method : {"auto", "t_learner", "x_learner"}, default "auto"
        :class:`crm_ml.campaigns.UpliftModel`'s method.
    window_days : int, default 30
        A contacted (or control) customer converted when they buy in the days after contact.
    test_share : float, default 0.5
        Share of the campaign's customers held out (stratified by arm and outcome) for the
        card's Qini coefficients; the production model is then refitted on all of them.
    campaign_id : str, optional
        The campaign to learn from (default: the largest one with a control group).
    value : float, optional
        Value of one conversion for the targeting list (default: the mean order value in the
        year before as_of).
    cost : float, optional
        Cost of one contact (default: the campaign's mean ``cost``, 0 without one).
    random_state : int, default 0
    """

    method: Literal["auto", "t_learner", "x_learner"] = "auto"
    window_days: int = 30
    test_share: float = 0.5
    campaign_id: str | None = None
    value: float | None = None
    cost: float | None = None
    random_state: int = 0

    def __post_init__(self):
        _at_least("campaigns.window_days", self.window_days, 1)
        if not 0 < self.test_share < 1:
            _fail("campaigns.test_share", f"between 0 and 1, got {self.test_share}")
        if self.value is not None and not self.value > 0:
            _fail("campaigns.value", f"must be > 0, got {self.value}")
        if self.cost is not None and not self.cost >= 0:
            _fail("campaigns.cost", f"must be >= 0, got {self.cost}")


_SECTIONS = {"churn": ChurnConfig, "clv": CLVConfig, "forecast": ForecastConfig,
             "segmentation": SegmentationConfig, "rfm": RFMConfig, "recommend": RecommendConfig,
             "campaigns": CampaignsConfig}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run can be told, one section per model pipeline.

    Build it with defaults (production), :func:`demo_config`, :meth:`from_toml` or
    :meth:`from_dict`; change it with :meth:`override` (dotted keys, as the CLI flags do).
    """

    churn: ChurnConfig = field(default_factory=ChurnConfig)
    clv: CLVConfig = field(default_factory=CLVConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    rfm: RFMConfig = field(default_factory=RFMConfig)
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    campaigns: CampaignsConfig = field(default_factory=CampaignsConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain JSON-ready dict (tuples become lists); :meth:`from_dict` reads it back."""
        return {name: {k: list(v) if isinstance(v, tuple) else v
                       for k, v in dataclasses.asdict(getattr(self, name)).items()}
                for name in _SECTIONS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> TrainConfig:
        """Build from ``{section: {key: value}}``; missing keys keep their defaults.

        Raises
        ------
        ConfigError
            An unknown section or key, a value of the wrong type or out of range (the message
            names the key and ``source``).
        """
        return cls().override({f"{section}.{key}": value
                               for section, values in _sections(data, source).items()
                               for key, value in values.items()}, source=source)

    @classmethod
    def from_toml(cls, path) -> TrainConfig:
        """Read a TOML file with ``[churn]``, ``[clv]``, ``[forecast]``, ``[segmentation]``,
        ``[rfm]`` and ``[recommend]`` tables (each optional).

        Raises
        ------
        ConfigError
            Unreadable TOML, unknown keys, wrong types or values (naming key and file).
        FileNotFoundError
            No such file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
        return cls.from_dict(data, source=str(path))

    def override(self, values: Mapping[str, Any], *, source: str | None = None) -> TrainConfig:
        """A copy with ``{"section.key": value}`` changed.

        Values are checked like a TOML file's: ``override({"churn.cv": 3})``.
        """
        changes: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            section, _, key = dotted.partition(".")
            cls = _SECTIONS.get(section)
            if cls is None:
                _raise(source, dotted, f"unknown section (known: {sorted(_SECTIONS)})")
            hints = typing.get_type_hints(cls)
            if key not in hints:
                _raise(source, dotted, f"unknown key (known in [{section}]: {sorted(hints)})")
            try:
                changes.setdefault(section, {})[key] = _coerce(value, hints[key])
            except TypeError as exc:
                _raise(source, dotted, str(exc))
        try:
            return dataclasses.replace(self, **{
                section: dataclasses.replace(getattr(self, section), **kw)
                for section, kw in changes.items()})
        except ConfigError as exc:
            if source is None:
                raise
            raise ConfigError(f"{source}: {exc}") from None


def demo_config() -> TrainConfig:
    """The smaller settings of ``crm-ml demo``: 3 calibration folds and a 100-tree forest keep
    each demo step well under a minute on the built-in data."""
    return TrainConfig(churn=ChurnConfig(cv=3, n_estimators=100))


def _sections(data: Mapping[str, Any], source: str | None) -> dict[str, Mapping[str, Any]]:
    for section, values in data.items():
        if section not in _SECTIONS:
            _raise(source, section, f"unknown section (known: {sorted(_SECTIONS)})")
        if not isinstance(values, Mapping):
            _raise(source, section, f"must be a table of settings, got {values!r}")
    return dict(data)


def _raise(source: str | None, key: str, message: str) -> typing.NoReturn:
    raise ConfigError(f"{source + ': ' if source else ''}{key}: {message}")


def _at_least(key: str, value, minimum: int) -> None:
    if value < minimum:
        _fail(key, f"must be >= {minimum}, got {value}")


def _coerce(value, tp):
    """``value`` as type ``tp`` (TOML arrays become tuples); TypeError saying what was wanted."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _coerce(value, arg)
            except TypeError:
                pass
        raise TypeError(f"expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise TypeError(f"expected one of {list(args)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {value!r}")
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise TypeError(f"expected a list of {len(items)} values, got {list(value)!r}")
        return tuple(_coerce(v, t) for v, t in zip(value, items, strict=True))
    if tp is type(None):
        if value is None:
            return None
        raise TypeError(f"expected none, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"expected a number, got {value!r}")
    if tp in (int, str, bool):
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        raise TypeError(f"expected {_describe(tp)}, got {value!r}")
    raise AssertionError(f"unsupported config type {tp}")  # a new field needs a rule here


def _describe(tp) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             type(None): "none"}
    if tp in names:
        return names[tp]
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if typing.get_origin(tp) is Literal:
        return f"one of {list(args)}"
    return "a list"
