"""Do training and validation come from one distribution? Per-feature (or per-channel) location and scale compared.

For every unit (a tabular feature, or an image or sequence channel) of the inputs as the model sees them, two effect
sizes, each with a test of whether a random split could have made it:

- the **standardised mean difference** ``(mean_val - mean_train) / pooled std``, the covariate-balance statistic of
  Stuart (2010), at least ``SHIFT_MEAN_WARN``;
- the **ratio of standard deviations**, at least ``SHIFT_SCALE_RATIO_WARN`` either way;

and the difference must be beyond sampling noise by a **two-sample Kolmogorov-Smirnov test**, on the per-sample
values for the location and on their squared deviations from the training mean for the scale (a spread test in the
manner of Brown and Forsythe), at a Bonferroni-corrected family-wise level of ``SHIFT_FAMILY_LEVEL``. The test is
distribution-free: heavy-tailed, skewed or sparse features, whose sample variance swings with one outlier, do not
make it fire (z-tests on the means and variances did, on 5 % of small heavy-tailed healthy splits), and ties
(sparse or categorical features) only make it conservative.

Images: the sample, not the pixel, is the independent unit (pixels of one image are correlated), so the tests run on
per-sample values: each sample's channel mean, and its mean squared deviation. A tabular feature is the case of one
value per sample.

Most units shifted together means the validation split is not on the training scale (normalised differently, not
at all, or twice; another source); a few means drift.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._data_parts import Finding, units
from dlcheck.checks._probe import number, plural


def ks_statistic(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Two-sample Kolmogorov-Smirnov statistic per column of ``(n1, U)`` and ``(n2, U)``: ``(U,)``.

    The largest gap between the two empirical distribution functions, read only at the end of each run of tied
    values (so ties, as in sparse or categorical features, never open a spurious gap).

    Examples
    --------
    >>> round(float(ks_statistic(torch.arange(10.0)[:, None], torch.arange(5.0, 15.0)[:, None])[0]), 2)
    0.5
    >>> round(float(ks_statistic(torch.zeros(8, 1), torch.zeros(3, 1))[0]), 12)
    0.0
    """
    count_first, count_second = first.shape[0], second.shape[0]
    values = torch.cat([first, second]).T.double()  # (U, n)
    steps = torch.cat(
        [
            torch.full((count_first,), 1.0 / count_first, dtype=torch.float64),
            torch.full((count_second,), -1.0 / count_second, dtype=torch.float64),
        ]
    )
    ordered, order = values.sort(dim=1, stable=True)
    gaps = steps[order].cumsum(dim=1)  # (U, n): F_first - F_second after each value
    run_ends = torch.ones_like(ordered, dtype=torch.bool)
    run_ends[:, :-1] = ordered[:, 1:] != ordered[:, :-1]
    return torch.where(run_ends, gaps.abs(), torch.zeros_like(gaps)).max(dim=1).values


def ks_p_value(statistic: torch.Tensor, count_first: int, count_second: int) -> torch.Tensor:
    """Asymptotic p-value of two-sample Kolmogorov-Smirnov statistics, with Stephens' (1970) small-sample correction
    ``lambda = (sqrt(m) + 0.12 + 0.11 / sqrt(m)) D``, ``m = n1 n2 / (n1 + n2)``.

    Examples
    --------
    >>> round(float(ks_p_value(torch.tensor([0.2]), 200, 200)[0]), 4)
    0.0005
    """
    from scipy.special import kolmogorov  # scipy arrives with scikit-image; imported here to keep start-up fast

    effective = count_first * count_second / (count_first + count_second)
    scale = math.sqrt(effective) + 0.12 + 0.11 / math.sqrt(effective)
    return torch.as_tensor(kolmogorov((scale * statistic).double().numpy()), dtype=torch.float64)


def compare_splits(
    train_rows: torch.Tensor, val_rows: torch.Tensor, findings: list[Finding], metrics: dict[str, Any]
) -> None:
    """Warn when validation inputs are not on the training scale, or have drifted; metrics either way."""
    if (
        train_rows.shape[1:] != val_rows.shape[1:]
        or min(train_rows.shape[0], val_rows.shape[0]) < thresholds.SHIFT_MIN_SAMPLES
    ):
        return
    train_units, val_units = units(train_rows.double()), units(val_rows.double())  # (n, U, E)
    count_train, count_val = train_units.shape[0], val_units.shape[0]
    mean_t, mean_v = train_units.mean(dim=(0, 2)), val_units.mean(dim=(0, 2))
    var_t = (train_units - mean_t[None, :, None]).pow(2).mean(dim=(0, 2))
    var_v = (val_units - mean_v[None, :, None]).pow(2).mean(dim=(0, 2))
    # A unit constant in either split (a blank border pixel) has no scale to compare: it is left out.
    testable = (var_t > 1e-12) & (var_v > 1e-12)
    count = int(testable.sum())
    metrics["split_shift_units"] = count
    if count == 0:
        return
    standardised = (mean_v - mean_t) / ((var_t + var_v) / 2).sqrt()  # Stuart (2010)'s standardised mean difference
    log_ratio = 0.5 * (var_v.clamp_min(1e-300) / var_t.clamp_min(1e-300)).log()  # log of the std ratio
    # Per-sample values: each sample's mean over the unit, and its mean squared deviation from the training mean.
    location_t, location_v = train_units.mean(dim=2), val_units.mean(dim=2)  # (n, U)
    spread_t = (train_units - mean_t[None, :, None]).pow(2).mean(dim=2)
    spread_v = (val_units - mean_t[None, :, None]).pow(2).mean(dim=2)
    level = thresholds.SHIFT_FAMILY_LEVEL / (2 * count)  # Bonferroni over every unit's two tests
    location_p = ks_p_value(ks_statistic(location_t, location_v), count_train, count_val)
    spread_p = ks_p_value(ks_statistic(spread_t, spread_v), count_train, count_val)
    mean_shifted = testable & (standardised.abs() >= thresholds.SHIFT_MEAN_WARN) & (location_p < level)
    scale_shifted = testable & (log_ratio.abs() >= math.log(thresholds.SHIFT_SCALE_RATIO_WARN)) & (spread_p < level)
    shifted = mean_shifted | scale_shifted
    flagged = int(shifted.sum())
    metrics["split_shift_flagged"] = flagged
    metrics["split_mean_shift_max"] = float(standardised[testable].abs().max())
    metrics["split_std_ratio_max"] = float(log_ratio[testable].abs().max().exp())
    if not flagged:
        return
    unit = "channel" if train_rows.ndim >= 3 else "feature"
    # The worst unit: the larger of its mean shift and its log std ratio, in units of their warn thresholds.
    badness = torch.maximum(
        standardised.abs() / thresholds.SHIFT_MEAN_WARN, log_ratio.abs() / math.log(thresholds.SHIFT_SCALE_RATIO_WARN)
    )
    worst = int(torch.where(shifted, badness, torch.zeros_like(badness)).argmax())
    where = (
        f"{unit} {worst}: mean {number(float(mean_t[worst]))} in training, {number(float(mean_v[worst]))} in "
        f"validation ({number(float(standardised[worst]))} standard deviations), std "
        f"{number(math.sqrt(float(var_t[worst])))} vs {number(math.sqrt(float(var_v[worst])))} "
        f"({number(math.exp(float(log_ratio[worst])))}x)"
    )
    if flagged * 2 >= count:
        findings.append(
            Finding(
                "warn",
                f"Validation inputs are not on the training scale: {flagged} of {plural(count, unit)} differ beyond "
                f"sampling noise ({where}). Validation was normalised differently from training (or not at all, or "
                "twice), or comes from another source: its scores will not tell how the model does.",
                [
                    "Apply exactly the training normalisation to validation: the mean and std computed on the "
                    "training split (`data.normalize: auto` in a recipe), the same /255 for images.",
                    "If validation really comes from another source, that is a distribution shift to report, not "
                    "a validation score to tune on.",
                ],
            )
        )
        return
    findings.append(
        Finding(
            "warn",
            f"Validation has drifted from training in {flagged} of {plural(count, unit)} ({where}): more than a "
            "random split gives.",
            [
                "Check how the split was made: split at random (stratified) after shuffling, unless validation is "
                "meant to come later in time or from other sources, and then judge the model on that shift.",
                f"Look at the drifted {unit}s for a change of units, sensor or preprocessing between the splits.",
            ],
        )
    )
