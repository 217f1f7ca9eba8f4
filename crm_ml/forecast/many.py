"""forecast_many: one ARIMAForecaster (or CombinationForecaster) per series, in parallel."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from crm_ml._logging import get_logger
from crm_ml._progress import track as progress
from crm_ml.errors import DataValidationError

log = get_logger("forecast")


def _fit_chunk(chunk: list[tuple[str, pd.Series]], h: int, level, params: dict,
               model_kind: str = "arima"):
    import warnings

    from crm_ml.forecast.combination import CombinationForecaster
    from crm_ml.forecast.forecaster import ARIMAForecaster
    from crm_ml.tracking.autologging import paused

    cls = CombinationForecaster if model_kind == "combination" else ARIMAForecaster

    out = []
    for sid, y in chunk:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with paused():  # thousands of series must never become thousands of runs
                    f = cls(**params).fit(y)
                fc = f.predict(h, level=level)
                model, fallback = f.model_, f.fallback_
            except Exception as exc:  # noqa: BLE001 - one bad series must not sink the batch
                fc = pd.DataFrame({"forecast": np.nan, "lower": np.nan, "upper": np.nan},
                                  index=future_dates(y.index, h))
                model, fallback = "failed", f"{type(exc).__name__}: {exc}"
        fc = fc.reset_index(names="timestamp")
        fc.insert(0, "series_id", sid)
        fc["model"] = model
        fc["fallback"] = fallback
        out.append(fc)
    return out


def future_dates(index: pd.Index, h: int) -> pd.Index:
    """The ``h`` periods after the last date of ``index`` at its frequency, named
    ``timestamp`` (steps 0..h-1 when ``index`` has no regular dates or they would pass
    ``pd.Timestamp.max``)."""
    from crm_ml.forecast._index import infer_freq

    if isinstance(index, pd.DatetimeIndex) and len(index):
        freq = infer_freq(index.sort_values())
        if freq is not None and h <= _periods_left(index.max(), freq):
            return pd.date_range(index.max(), periods=h + 1, freq=freq)[1:].rename("timestamp")
    return pd.RangeIndex(h, name="timestamp")


def _periods_left(last: pd.Timestamp, freq: str) -> int:
    """How many periods of ``freq`` follow ``last`` up to ``pd.Timestamp.max``."""
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):  # fixed length: no need to list the dates
        return int((pd.Timestamp.max - last) // pd.Timedelta(offset))

    def fits(k: int) -> bool:
        try:
            return last + k * offset <= pd.Timestamp.max
        except (OverflowError, ValueError):  # pandas: OutOfBoundsDatetime, ...Timedelta
            return False

    low, high = 0, int((pd.Timestamp.max - last) // pd.Timedelta(hours=1)) + 1
    while low < high:  # bisect: the largest k that fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def horizon_limit(long_df: pd.DataFrame, id_col: str = "series_id",
                  time_col: str = "timestamp") -> int | None:
    """The largest horizon whose dates every series of ``long_df`` can have.

    Forecast dates run on from each series' last date at its frequency and must stay within
    pandas' Timestamp range (up to ``pd.Timestamp.max``, 2262-04-11). ``None``: no limit
    (the timestamps are not dates with a regular frequency).
    """
    from crm_ml.forecast._index import infer_freq

    if not pd.api.types.is_datetime64_any_dtype(long_df[time_col]):
        return None
    limits = {}
    for _, times in long_df.groupby(id_col, sort=False)[time_col]:
        index = pd.DatetimeIndex(times.dropna()).sort_values()
        freq = infer_freq(index) if len(index) else None
        if freq is not None and (index[-1], freq) not in limits:
            limits[index[-1], freq] = _periods_left(index[-1], freq)
    return min(limits.values()) if limits else None


def _n_workers(n_jobs: int | None) -> int:
    cpus = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs < 0:
        return max(cpus + 1 + n_jobs, 1)
    return min(int(n_jobs), cpus)


def forecast_many(long_df: pd.DataFrame, h: int, n_jobs: int = -1, *, level=95,
                  id_col: str = "series_id", time_col: str = "timestamp", value_col: str = "y",
                  engine: str = "fast", model: str = "arima",
                  show_progress: bool | None = None,
                  track: bool | None = None, **forecaster_params) -> pd.DataFrame:
    """Forecast every series of a long table with its own automatic ARIMA.

    Parameters
    ----------
    long_df : DataFrame
        Columns ``series_id``, ``timestamp``, ``y`` (names configurable), e.g. the output
        of :func:`~crm_ml.forecast.sales_series` with ``by=``.
    h : int
        Horizon in periods.
    n_jobs : int, default -1
        Worker processes (-1 = all cores). Series are sent in chunks to limit overhead.
    level : int or sequence of int, default 95
        Interval level(s), as in :meth:`ARIMAForecaster.predict`.
    engine : {"fast", "statsforecast", "bagged"}, default "fast"
        ARIMA engine of every series. Unlike a single :class:`ARIMAForecaster` (default
        ``"statsforecast"``), many series default to crm_ml's numba engine, which forecasts
        with the Akaike-weighted average of its search's best models: on seven development
        sets outside the benchmark (3,548 M1, M3 and Tourism series) it was ahead of
        statsforecast on every set (e.g. 733 M3 sales series: mean MASE 0.749 vs 0.760) and
        ~20x faster (1,000 ten-year monthly series in ~21 s instead of ~37 min), while on the
        66-series benchmark it trails statsforecast by 2.3% (see benchmarks/decision-log.md).
        ``"bagged"`` costs about 10x the fast engine. With ``model="combination"``: the
        engine of its ARIMA member.
    model : {"arima", "combination"}, default "arima"
        ``"combination"``: a :class:`~crm_ml.forecast.CombinationForecaster` per series
        (equal-weight ARIMA + ETS + Theta; about 2x the fast engine's time; see
        benchmarks/notes/combo.md for its accuracy).
    show_progress : bool, optional
        Progress bar over chunks (default: the global crm_ml setting).
    track : bool, optional
        Log one MLflow run for the batch (counts, models used, time; never a run per
        series). Default: when a fit would be logged (:func:`crm_ml.tracking.autolog` on,
        or inside an active MLflow run); False never logs.
    **forecaster_params
        Passed to every :class:`~crm_ml.forecast.ARIMAForecaster` (season_length,
        transform, fill...) or CombinationForecaster (season_length, fill, weights...).

    Returns
    -------
    DataFrame
        ``series_id``, ``timestamp``, ``forecast``, ``lower``, ``upper``, ``model`` and
        ``fallback`` (None when ARIMA was used), ``h`` rows per series. A series that fails
        gets NaN forecasts and model ``"failed"`` instead of stopping the batch.
    """
    for col in (id_col, time_col, value_col):
        if col not in long_df.columns:
            raise DataValidationError(f"{col}: required column is missing from long_df",
                                      column=col, rule="required column")
    if int(h) < 1:
        raise DataValidationError(f"h: must be >= 1, got {h}", column="h", rule="positive")
    from crm_ml.forecast._input import check_levels

    check_levels(level)  # before any series is fitted, rather than failing every one
    if len(long_df) == 0:
        raise DataValidationError("long_df: no rows, so no series to forecast", column=id_col,
                                  rule="non-empty")
    no_id = long_df[id_col].isna().to_numpy()
    if no_id.any():  # groupby would drop these rows without a word
        raise DataValidationError(f"{id_col}: {int(no_id.sum())} row(s) have no series id",
                                  column=id_col, rule="not null",
                                  rows=list(long_df.index[no_id][:5]))
    limit = horizon_limit(long_df, id_col, time_col)
    if limit is not None and int(h) > limit:
        raise DataValidationError(
            f"h: {h} periods would run past {pd.Timestamp.max.date()}, the last date pandas "
            f"can represent; the largest horizon that works for these series is {limit}",
            column="h", rule="forecast dates within pandas' Timestamp range")
    if model not in ("arima", "combination"):
        raise DataValidationError(f"model: must be 'arima' or 'combination', got {model!r}",
                                  column="model", rule="known model")
    t0 = time.perf_counter()
    params = dict(forecaster_params, **{"engine" if model == "arima" else "arima_engine":
                                         engine})
    groups = [(str(sid), g.set_index(time_col)[value_col].rename("y"))
              for sid, g in long_df.groupby(id_col, sort=True)]
    workers = _n_workers(n_jobs)
    n_chunks = min(len(groups), max(workers * 8, 1)) if workers > 1 else min(len(groups), 50)
    chunks = [c for c in (groups[i::n_chunks] for i in range(n_chunks)) if c]
    if workers > 1 and len(chunks) > 1:
        from joblib import Parallel, delayed

        runner = Parallel(n_jobs=workers, return_as="generator_unordered")
        results = runner(delayed(_fit_chunk)(c, int(h), level, params, model)
                         for c in chunks)
    else:
        results = (_fit_chunk(c, int(h), level, params, model) for c in chunks)
    frames = []
    for res in progress(results, description=f"forecasting {len(groups)} series",
                        total=len(chunks), show=show_progress):
        frames.extend(res)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    order = {sid: i for i, (sid, _) in enumerate(groups)}
    out = out.sort_values(["series_id", "timestamp"], key=lambda s: s.map(order)
                          if s.name == "series_id" else s, kind="stable").reset_index(drop=True)
    elapsed = time.perf_counter() - t0
    log.info("forecast_many: %d series, h=%d in %.1fs", len(groups), h, elapsed)
    _log_batch(out, len(groups), int(h), workers, elapsed, track)
    return out


def _log_batch(out, n_series, h, workers, elapsed, track):
    from crm_ml.tracking import start_run, tracking_enabled
    from crm_ml.tracking.autologging import fit_is_logged

    if not (fit_is_logged() if track is None else track and tracking_enabled()):
        return
    per = out.drop_duplicates("series_id")
    with start_run("forecast", run_name="forecast_many",
                   params={"n_series": n_series, "h": h, "n_jobs": workers}) as run:
        run.log_metrics({"seconds": elapsed,
                         "n_fallback": int(per["fallback"].notna().sum()),
                         "n_failed": int((per["model"] == "failed").sum())})
        counts = per["model"].str.replace(r"\[.*", "", regex=True).value_counts()
        run.log_table(counts.rename("n_series").to_frame(), "models_used")
