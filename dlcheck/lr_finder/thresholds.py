"""Every number the LR finder decides with, in one place, each with its reason and source.

"Research" below is ``shared/research/lr_finder.md`` (the study of torch-lr-finder, fastai, Lightning and
Leslie Smith's papers behind this package); section numbers refer to it. None of these values was fitted to
the quality benchmark (``benchmarks/lr_quality.py``): they come from the reasoning given next to each.
"""

from __future__ import annotations

import math

# ------------------------------------------------------------------------------------------------ the sweep
START_LR = 1.0e-7
"""First LR of the ramp: fastai's default; far below any LR that trains (research section 7, defaults)."""
END_LR = 10.0
"""Last LR of the ramp: fastai's and torch-lr-finder's default; every optimiser diverges before it."""
STEPS = 100
"""Optimiser steps of one sweep: the common default (about 12 steps per decade over 8 decades)."""
CHECK_EVERY_STEPS = 4
"""The losses stay on the device and are read back every this many steps: one host sync per 4 steps
instead of torch-lr-finder's one per step, and a stop at most 3 steps late (the extra steps are dropped
from the history, so the result does not depend on this number)."""

# ------------------------------------------------------------------------------------------ the live stop
STOP_EMA_BETA = 0.9
"""Causal EMA for the stop decision only (research section 7, defaults): lags ~9 steps, enough to ignore
one bad batch, short enough to stop soon after the blow-up."""
STOP_RISE_FRACTION = 1.0
"""Stop when the smoothed loss exceeds ``best + 1.0 * (level - best)``, i.e. is back at its starting level:
every bit of progress is lost, so the LR is past any use. Additive, so it works for losses of any sign
(fastai #962), unlike the ratio ``loss > 4 * best`` of every existing tool."""
STOP_PATIENCE = 3
"""... for 3 consecutive steps (research section 7, defaults), so a single spike never stops a sweep."""
STOP_NOISE_POINTS = 12
"""No rise stops the sweep before 12 losses are in (a non-finite loss always stops). On the default ramp they come
from LRs below 8e-7, where nothing trains, so they are 12 draws of the loss at initialisation on different
batches: their median is the starting level and their successive differences measure the batch-to-batch noise
(11 differences measure its standard deviation to about 40 %). Reading both off one or two batches, as every
other finder does, let a lucky first batch turn ordinary noise into "diverges at once" on a small-batch
problem (issue 14, item 7): at batch 8 the loss of a 3-class problem swings between 0.5 and 1.0 from batch to
batch."""
STOP_NOISE_MIN_POINTS = 5
"""A sweep shorter than 96 steps reads an eighth of its steps first (they span the same first decade of the
ramp), and never fewer than 5: fewer differences than 4 do not measure a spread at all."""
STOP_JUMP_FACTOR = 100.0
"""... except a jump: a non-negative loss that stays above 100x its value at initialisation (the first loss, taken
before any step) from the first step on, for 3 steps, stops the sweep before the noise is measured. Batch-to-batch
noise at fixed weights does not put every later batch two orders of magnitude above the first; a ramp that starts
too high (Adam at 1e4 sends a 3-class loss from 1.1 to 1e8 in one step) does."""
STOP_RELATIVE_FLOOR = 0.1
"""... nor by less than 10 % of the starting level's size: before the loss has fallen (``level - best`` near 0), a
smaller sustained rise is no divergence."""
STOP_NOISE_MULTIPLE = 3.0
"""When the loss has not fallen yet (``level - best`` tiny), the rise must exceed 3 standard deviations of
the batch-to-batch noise (measured up to the curve's best point) instead: an early rise of that size is real,
not noise."""

# ------------------------------------------------------------------------------------------ zero-lag curve
MEDIAN_WINDOW = 5
"""Centred running median before smoothing: removes single-batch spikes (Lightning #1767) without lag."""
BANDWIDTH_FRACTION = 0.04
"""Gaussian bandwidth of the local-linear smoother, as a fraction of the points: 4 points (0.3 decade) for
100 steps over 8 decades. Wide enough to average ~10 batches, narrow next to the ~2-decade descent."""
MIN_BANDWIDTH_POINTS = 2.0
"""Never smooth over fewer than 2 points either side, however short the sweep."""

# -------------------------------------------------------------------------------------------------- rules
MINIMUM_DIVISOR = math.sqrt(10.0)
"""The ``minimum`` rule divides the LR at the loss minimum by sqrt(10) = 3.16, half a decade. fastai divides
by 10, but on a causal EMA whose minimum lags the true one by 0.4-1.1 decades (median 0.6-0.7, research
sections 3 and 6); its ÷10 "partly makes up for this lag". On a zero-lag curve the same point is about half a
decade lower, i.e. ÷3.2, which is also Smith's rule of thumb (the optimum is within a factor 2 of the largest
LR that converges; the lower CLR bound is max/3-4, research section 4). Fixed before any benchmark ran."""
DESCENT_START_FRACTION = 0.1
"""The band's lower edge: where the smoothed loss has made 10 % of its total fall (and more than 3 noise
standard deviations of the smoothed curve) for good: the descent has begun. The upper edge, symmetrically:
where it first comes within that margin of its minimum, i.e. 90 % of the fall made: the loss stops falling
(Smith's upper bound is where the improvement "slows, becomes ragged, or falls", whichever comes first)."""
ONSET_NOISE_MULTIPLE = 3.0
"""Where the loss starts to move at all (the ``lr_range`` check's lower limit): the smoothed curve has fallen below
its starting level by 3 standard errors of the smoothed curve (a one-sided test at about the 0.1 % level, as for
the flat shape) ..."""
ONSET_FALL_FRACTION = 0.02
"""... and by 2 % of its total fall (a floor for curves with almost no noise; the same 2 % as ``FLAT_RELATIVE_DROP``)."""
START_FRACTION = 0.05
"""The starting level of a curve is the median of its first 5 % of points: the smoother's first value alone
is its noisiest (an end point is fitted from one side only)."""

CONSTANT_TOWARDS_TOP = 0.5
"""The LR to hold constant, for optimisers with steps normalised per parameter (Adam, AdamW, RMSprop, Adagrad...):
the rules' median moved this fraction of the way, in log-LR, to the band's upper edge (where the loss stops
falling): their geometric mean. The three rules mark the descent (valley and steepest its middle, minimum/3.2 its
end), so on a narrow descent the median is already near the top and moves little (x1.5), but on a flat, wide
optimum, where the loss keeps falling over two or three decades, it sat at the conservative end: a decade below
where the loss stops falling, with regrets of 1.2-1.3 (issue 14, item 8). Above the upper edge a constant LR is
never put (Smith: it must stay below the maximum bound), because these optimisers move every weight by about lr
per step however small its gradient, so the noise a constant LR leaves does not shrink as the loss falls.

SGD (with or without momentum) steps by lr x gradient: its steps shrink as the loss falls, and it trains stably up
to the largest LR its curvature allows, the "edge of stability" (Cohen et al., ICLR 2021), where the range test's
loss stops falling and turns. Its constant LR is the LR at the curve's minimum: on four problems where plain SGD's
loss kept falling up to large LRs (a softmax regression and MLPs with and without BatchNorm), the rules' median sat
0.5-0.8 decades too low (regrets 1.2-2.6) and the minimum within 1.2 of the best. Developed on those twelve
problems (``benchmarks/lr_problems.py``'s development split and three models x SGD, RMSprop, AdamW), never on
the benchmark's held-out problems."""
ANNEALED_SCHEDULES = ("cosine", "exponential", "inverse_time")
"""Schedules that decay from ``optimizer.lr`` and spend most of a run below it; for them (and for any schedule
with a warm-up) ``optimizer.lr`` is a peak, and the suggestion is the band's upper edge, where the loss stops
falling: Smith's maximum bound (research section 4; the "emit a schedule" item of section 7). A one-cycle
schedule reaches its peak only after a warm-up third, and Smith and Topin set that peak where the loss starts
to rise (a long flat bottom allowing "super-convergence"). A constant LR (``constant``, ``step``,
``multistep``, ``reduce_on_plateau`` without warm-up) must be smaller than the maximum bound (Smith): there the
suggestion is the median of the rules."""

# ----------------------------------------------------------------------------------------------- confidence
AGREEMENT_HIGH_DECADES = 0.5
"""A rule more than half a decade outside the band lowers confidence to medium (research section 7.1's
half-decade agreement, measured against the descent every rule aims at rather than pairwise)."""
AGREEMENT_LOW_DECADES = 1.0
"""A rule more than a decade outside the band: low confidence (research section 7.1)."""
REPEAT_AGREEMENT_FACTOR = 2.0
"""Adaptive repeats: stop after two sweeps whose suggestions agree within 2x (research section 7.2); a
spread of more than 2x caps confidence at medium."""
REPEAT_LOW_FACTOR = math.sqrt(10.0)
"""Repeated sweeps more than half a decade apart: low confidence (the same half decade as the rules)."""

# ------------------------------------------------------------------------------------------------- shapes
EARLY_FRACTION = 0.15
"""A sweep that stops (or meets NaN) within the first 15 % of its steps "diverges at once": at the default
ramp that is below ~1e-6, where no healthy set-up diverges."""
MINIMUM_EARLY_FRACTION = 0.1
"""A curve whose minimum lies in the first 10 % of its points never went down: it "rises from the start"."""
FLAT_NOISE_MULTIPLE = 3.0
"""Flat: the smoothed curve's fall is under 3 standard errors (of the smoothed values at the start and at the
minimum, computed exactly for the smoother; a one-sided test at about the 0.1 % level) ..."""
FLAT_RELATIVE_DROP = 0.02
"""... or under 2 % of the starting loss (a model that is already trained, or a range far too low)."""
FLAT_NOISY_RELATIVE = 0.1
"""A flat curve whose batch noise exceeds a tenth of the loss level gets the advice to measure on fixed held-out
batches or larger batches: at that noise a fall of a few percent is invisible."""
TRAINING_LR_FLOOR = 1e-5
"""Below this LR no optimiser in common use moves unit-scale weights noticeably in the 15 or so steps before a
sweep can stop (Adam moves each weight by at most ~lr per step: 1.5e-4 in 15 steps). A sweep that starts below it
and still diverges at once points at the set-up, not at the start of the ramp; one that starts above it may
simply start too high."""
NEVER_DIVERGES_TAIL_FRACTION = 0.05
"""No divergence: the minimum lies in the last 5 % of the points ..."""
NEVER_DIVERGES_RISE_FRACTION = 0.1
"""... and the curve ends within 10 % of the total fall above its minimum."""
NOISY_FRACTION = 0.1
"""Too noisy: the smoothed curve's own noise exceeds a tenth of the total fall (with the default bandwidth,
batch noise above ~0.4x the fall), so where it crosses a level or is steepest moves by noise."""
NAN_RISE_FRACTION = 0.25
"""A NaN that comes after the smoothed loss rose by a quarter of its fall ends an ordinary divergence; one
that comes while the loss is still near its minimum is a numerical problem (shape "NaN at step k")."""

# ------------------------------------------------------------------------------------------------- checks
PLACEMENT_TOLERANCE = 2.0
"""The ``lr_range`` check judges the recipe's ``optimizer.lr`` only when it lies more than 2x outside the usable
range (the band; for a one-cycle peak, up to where the loss starts to rise): repeated sweeps differ by up to 2x
(``REPEAT_AGREEMENT_FACTOR``), so a closer value is within the test's noise and passes. Further outside it warns,
with advice naming the suggestion. It fails only far outside, where the curve itself shows the run cannot work:

- above the LR where the range test's smoothed loss was back at its starting level (or the sweep stopped on
  divergence): every bit of progress is lost there, the stop rule's own criterion, so a run at that LR blows up
  or learns nothing; at one decade past the band's upper edge a healthy curve is usually there already;
- below where the loss first moved at all (``ONSET_NOISE_MULTIPLE``), and only when the whole run cannot make up
  for it: its ``steps x lr`` (an upper bound of the sum of its LRs under any schedule with that peak) is below
  half the sum of the LRs the sweep had taken when its loss began to fall (the same factor 2 of noise).
  Progress in the first steps grows with the sum of the LRs taken (each Adam step moves a weight by up to ~lr),
  so such a run moves the weights less than the range test did while its loss stayed flat. A long run at a
  small LR still learns, slowly: a warn, not a fail (a false fail on a healthy recipe is the worst outcome).

A fail needs a band to trust: with low confidence it is lowered to a warn."""
VERIFY_STEPS = 200
"""Length of each bracket run of ``--verify`` (research section 7.7: 100-300 steps)."""
VERIFY_FACTOR = 3.0
"""The bracket: suggestion / 3, suggestion, suggestion x 3 (Smith's max/3-4 rule of thumb, research 4)."""
VERIFY_TIE_FRACTION = 0.02
"""A bracket run must beat the suggestion's held-out loss by more than 2 % to be called better: the runs share
batches and dropout masks, but a new data order or seed moves final losses by about that much."""
EVALUATION_MAX_SAMPLES = 4096
"""Held-out losses are measured on at most this many validation samples (stored order), to stay cheap."""
