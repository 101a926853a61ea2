"""Every threshold the checks use, in one place, with the reasoning (and the source where there is one).

The numbers were set from first principles (what a healthy initialisation or training step produces),
not by fitting a test zoo: each comment says what a healthy model gives and how far from it a value must
be before a check speaks. Sources: Karpathy, "A Recipe for Training Neural Networks" (2019) and his
makemore lectures; CS231n "Neural Networks Part 3" (babysitting the learning process); Full Stack Deep
Learning's troubleshooting lecture (overfit-one-batch failure signatures); the habits of the tools users run
instead (torcheck, torchtest, Lightning's ``overfit_batches``).

Nothing here imports torch: reports and the docs read these values without loading it.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------- data_sanity

#: A feature (tabular) or channel (images, sequences) whose mean is further than this from zero, in the
#: units the model sees, is "far from zero mean". Standardised data has means of 0; data scaled to [0, 1]
#: has means near 0.5, which is harmless. Raw pixel values (0..255) or unscaled physical units sit at tens
#: to thousands: a first layer initialised for unit-scale inputs then saturates or explodes.
INPUT_MEAN_WARN = 3.0
#: Likewise for the standard deviation of a feature or channel (unit scale is 1; [0, 1] images give ~0.3).
INPUT_STD_WARN = 10.0
#: Inputs whose overall root-mean-square is below this are nearly constant at the scale of a unit-variance
#: initialisation: the first layer's outputs start almost equal for every sample.
INPUT_RMS_LOW_WARN = 1e-2
#: Regression targets whose root-mean-square is above this need many optimiser steps just to move the last
#: bias there (and give an MSE in the thousands at init): standardise them. Generous on purpose: targets
#: in the tens are common and train fine.
TARGET_RMS_WARN = 100.0
#: Majority class / minority class count at or above which the imbalance is "heavy" (Karpathy's 1:10
#: example of a base rate worth initialising the last bias for). Accuracy is then dominated by the
#: majority class: the report gives the majority baseline.
IMBALANCE_RATIO_WARN = 10.0
#: Share of validation samples that are exact copies of a training sample above which the split leaks.
#: A few duplicates happen in real data sets; one in a hundred already inflates validation accuracy by a
#: visible amount (deepchecks' train-test sample mix condition allows up to 5%; we are stricter because
#: exact copies are unambiguous).
LEAKAGE_FRACTION_WARN = 0.01
#: Items read from a map-style Dataset for the value checks (tensor data is checked whole).
DATASET_SAMPLE = 2048
#: Rows of each split (a deterministic stride) read for the statistics of the inputs as the model sees them.
MODEL_VIEW_ROWS = 8192

# --- train and validation from one distribution (``_split_shift.py``)
#: A unit (feature, or channel) whose standardised mean difference between the splits, (mean_val - mean_train) /
#: pooled std, is at least this has shifted. Stuart (2010, Statistical Science 25(1), "Matching methods for causal
#: inference") gives |SMD| > 0.25 as the mark of groups too different to compare (after Rubin 2001; 0.1 is the
#: strict variant). A random split of a few hundred samples gives |SMD| of about 0.05-0.1 per unit.
SHIFT_MEAN_WARN = 0.25
#: ... or whose standard deviations differ by this factor either way: Rubin (2001)'s variance-ratio bounds of 1/2
#: and 2 for comparable groups, as a ratio of standard deviations (sqrt 2 = 1.41). Validation left unnormalised
#: next to standardised training gives ratios of 10-1000.
SHIFT_SCALE_RATIO_WARN = 2.0**0.5
#: Each of those must also be beyond the split's sampling noise: a two-sample Kolmogorov-Smirnov test (on the
#: per-sample values for the mean, on their squared deviations for the scale) significant at a family-wise
#: false-alarm level of 0.1 % over all the units' tests (Bonferroni): at most one healthy data set in a thousand
#: warns. (At 1 %, 2 of 260 healthy data sets of the false-alarm benchmark did, at p = 1e-4 and 5e-4.) Small
#: validation splits thus need larger shifts before anything is said, and heavy tails or sparsity never pass for a
#: shift.
SHIFT_FAMILY_LEVEL = 0.001
#: Samples each split needs before the comparison means anything (the standard errors use per-sample values).
SHIFT_MIN_SAMPLES = 20

# --- near-copies across the splits (``_duplicates.near_duplicates``)
#: A validation sample is a near-copy of a training sample when it lies closer to one than this fraction of the
#: typical (median) distance between a training sample and its nearest other training sample, in standardised
#: inputs. By chance that happens to about 0.7 * 0.1**d of the samples of d-dimensional data (a Poisson process:
#: 7 % in one dimension, 0.7 % in two, under 0.1 % from three on), which is why the rate is compared with the same
#: rate among training samples; a perturbed or re-encoded copy lies much closer than any natural neighbour.
NEAR_DUPLICATE_DISTANCE_FRACTION = 0.1
#: Warn when validation has at least this much larger a share of near-copies than training has among itself
#: (the same 1 % as exact copies, ``LEAKAGE_FRACTION_WARN``) ...
NEAR_DUPLICATE_FRACTION_WARN = 0.01
#: ... and the excess is beyond sampling noise: a one-sided Fisher exact test of the two counts at p < 1e-4. Two-
#: dimensional data has about 1 % of near-copies by chance, so small counts are common; at a z of 3 one healthy
#: data set in 260 warned (7 of 200 validation samples against 0 of 400 training samples, p = 3e-4).
NEAR_DUPLICATE_P = 1e-4
#: Training rows searched (a stride; the estimate is corrected for the share of training they cover) ...
NEAR_DUPLICATE_REFERENCE_ROWS = 4096
#: ... validation rows, and training rows, whose nearest neighbour is looked for (more training ones: their rate is
#: the baseline both are judged by) ...
NEAR_DUPLICATE_VAL_QUERIES = 512
NEAR_DUPLICATE_TRAIN_QUERIES = 1024
#: ... and input coordinates compared (a stride over the standardised, non-constant ones: a near-copy is near in
#: every subset of its coordinates). 1536 x 4096 distances in 1024 dimensions take about a second.
NEAR_DUPLICATE_COORDINATES = 1024

# --- one feature that predicts the label (``_leaking_feature.py``)
#: Balanced accuracy, on held-out samples, of predicting the class from one input coordinate alone (the label of the
#: nearest training sample in that coordinate), at or above which the label probably leaks into the inputs. "Almost perfectly": one error in a hundred. The
#: 320 healthy data sets of the false-alarm benchmark reach at most 0.93 (``data_sanity_false_alarms.py``).
LEAK_BALANCED_ACCURACY_WARN = 0.99
#: |Spearman rank correlation| of one coordinate with a regression target at or above which it is a copy of the
#: target (or a monotone function of it) rather than a feature: 0.99 leaves 2 % of the rank variance unexplained.
LEAK_RANK_CORRELATION_WARN = 0.99
#: Samples needed before a "perfect" score means anything (half of them to score, without a validation split).
LEAK_MIN_SAMPLES = 60
#: Coordinates tried (a stride over the flattened inputs), and classes at most (a recall table per coordinate).
LEAK_MAX_COORDINATES = 1024
LEAK_MAX_CLASSES = 100

# --------------------------------------------------------------------------------------------- initial_loss

#: Samples the loss at initialisation is averaged over (at least one batch).
INITIAL_LOSS_SAMPLES = 512
#: Chunks the sample is cut into to estimate the standard error of the mean loss (any loss function).
INITIAL_LOSS_CHUNKS = 8
#: Standard errors of margin before calling a loss too high or too low (about 95% one-sided confidence).
NOISE_STANDARD_ERRORS = 2.0
#: The initial loss is judged by the *implied output scale*: the standard deviation of input-independent
#: zero-mean Gaussian outputs that would give the measured loss in expectation. This is comparable across
#: losses and numbers of classes, where a ratio to log C is not (logits of std 2 give 1.95x chance for 2
#: classes but 1.3x for 1000). A unit-scale output layer (LeCun/He initialisation on unit-variance
#: features) gives logits of std ~1, PyTorch's default ~0.6; twice that already makes the "hockey stick"
#: Karpathy describes, and 4x is an output layer an order of magnitude too large (his makemore example,
#: a loss of 27 for a chance level of 3.3, is ~15x).
OUTPUT_SCALE_WARN = 2.0
OUTPUT_SCALE_FAIL = 4.0
#: A loss this far below the best any input-independent prediction can do (the entropy of the label prior,
#: or the target variance) is too good to be true at initialisation: pretrained weights, labels leaking into
#: the inputs, or a loss that ignores most samples.
INITIAL_LOSS_LOW_RATIO = 0.9
#: Classification outputs whose rows all sum to 1 within this are probabilities (a softmax before a loss
#: that applies log-softmax itself).
PROBABILITY_SUM_TOLERANCE = 1e-3
#: Output values needed before "no output is ever negative" means something (a ReLU or sigmoid after the
#: last layer): zero-mean logits are all non-negative with probability 2^-n.
NON_NEGATIVE_OUTPUTS_MIN_VALUES = 64

# -------------------------------------------------------------------------------------------- gradient_flow

#: Largest / smallest relative gradient (||grad|| / ||weight||) over the linear and convolution weights.
#: Relative gradients are what a step changes, and in a healthy network they stay within one or two orders
#: of magnitude of each other; three orders means the first layers learn a thousand times slower than the
#: last (vanishing) or the reverse (exploding). AUTOTRAINER uses a first/last ratio of 1e-3 for vanishing.
GRADIENT_SPREAD_WARN = 1e3
#: Update / weight ratio ||delta w|| / ||w|| of one optimiser step at the recipe's (peak) learning rate, for
#: the median weight layer. Karpathy and CS231n put a healthy value near 1e-3; a factor of 100 either way is
#: far enough outside to be a wrong learning rate rather than a different taste. A first Adam step moves
#: every element by ~lr whatever its gradient, so its ratio is lr / RMS(w) and reads like a steady-state one;
#: a first SGD step scales with the gradient at init, the largest of the run, so its ratio runs high (a
#: healthy one-cycle SGD recipe at its peak rate moves its small last layer by 26% in the first step): hence
#: the median layer and the generous upper bound.
UPDATE_RATIO_LOW_WARN = 1e-5
UPDATE_RATIO_HIGH_WARN = 1e-1

# --------------------------------------------------------------------------------------- batch_independence

#: Samples probed: for each, the gradient of its output with respect to every other sample's input.
BATCH_INDEPENDENCE_PROBES = 4
#: Batch size of the probe (small: the test is about mixing, which any batch of two or more shows).
BATCH_INDEPENDENCE_BATCH = 16
#: Gradient reaching other samples, relative to the gradient reaching the sample itself, above which they
#: are mixed. Independent samples give exactly 0 (no arithmetic path); a mixing bug gives order 1.
GRADIENT_LEAK_TOLERANCE = 1e-6
#: |output alone - output in the batch| relative to the outputs' root-mean-square. Batched and single
#: matrix products use different kernels (about 1e-6 in float32, 1e-3 with TF32 convolutions on GPUs).
FORWARD_CONSISTENCY_TOLERANCE = 1e-2

# ----------------------------------------------------------------------------------------- activation_stats

#: Samples fed through the hooks.
ACTIVATION_SAMPLES = 256
#: Share of a ReLU layer's units (features, or channels of an image) never positive on any sample. At a
#: healthy initialisation with zero biases each unit is positive for about half the samples, so the chance
#: of one being dead over 64+ samples is below 1e-19: any dead share is a symptom. 10% is a clear one;
#: half the layer dead means half its capacity cannot learn (dead units receive no gradient).
DEAD_UNITS_WARN = 0.10
DEAD_UNITS_FAIL = 0.50
#: tanh: |y| > 0.97; sigmoid: y < 0.03 or y > 0.97 (Karpathy's makemore saturation test), where the local
#: gradient is below 6%. A tanh layer initialised with the recommended gain 5/3 on unit-variance inputs has
#: about 20% of its values there; 35% means pre-activations of std ~2, 70% of std ~5 (gradients vanish).
SATURATION_WARN = 0.35
SATURATION_FAIL = 0.70
#: Largest / smallest output standard deviation over the linear and convolution layers, in depth order.
#: He/Glorot initialisation keeps it within a small factor through any depth; two orders of magnitude mean a
#: gain compounding layer after layer (e.g. x3 per layer over five layers), four are unusable.
SCALE_DRIFT_WARN = 1e2
SCALE_DRIFT_FAIL = 1e4

# -------------------------------------------------------------------------------------------- overfit_batch

#: Samples per class of the tiny batch (Karpathy: "as few as two examples"; the usual advice is 2-32 samples:
#: enough to need a real fit, few enough to memorise in a few hundred steps).
OVERFIT_SAMPLES_PER_CLASS = 4
#: Samples of the tiny batch for regression and multi-label data.
OVERFIT_SAMPLES = 16
#: Optimiser steps allowed (500-1000 is what Adam at 3e-4 to 1e-3 needs to memorise a few samples; the recipe's own
#: learning rate is used, and the run stops as soon as the batch is fitted).
OVERFIT_STEPS = 500
#: The batch counts as fitted when the loss is at most this fraction of the loss at step 0 (the usual bar is
#: 1% or 0.01 absolute; 2% keeps the budget short for 2-class problems, whose initial loss is only 0.69)
#: and, for classification, every sample is classified correctly.
OVERFIT_LOSS_FRACTION = 0.02
#: The loss is read back from the device every this many steps (the only host synchronisation).
OVERFIT_CHECK_EVERY = 10
#: Failure shapes of the loss curve (FSDL's overfit-one-batch table):
#: flat: the lowest loss is within 5% of the first.
OVERFIT_FLAT_FRACTION = 0.05
#: rising: the last loss is 10% or more above the first.
OVERFIT_RISING_RATIO = 1.1
#: exploding: a loss 10x the first, or a non-finite loss.
OVERFIT_EXPLODING_RATIO = 10.0
#: oscillating: over the second half, consecutive changes switch sign on most steps and the loss swings by
#: at least 20% of its level.
OVERFIT_OSCILLATION_AMPLITUDE = 0.2
OVERFIT_OSCILLATION_SIGN_CHANGES = 0.5
#: stuck above a floor: the last quarter of the budget lowered the loss by less than 5% while it is still
#: above the target.
OVERFIT_FLOOR_IMPROVEMENT = 0.05
#: Relative change of the parameters over a failed run (||theta_end - theta_start|| / ||theta_start||) below
#: which they "barely moved". A run that fits a batch moves its weights by several percent; a run whose
#: weights moved by less than 0.1% had a learning rate far too small (or gradients that vanished).
OVERFIT_NEGLIGIBLE_CHANGE = 1e-3
#: When the recipe's learning rate fails, the same budget is tried at the learning rate times this factor
#: (up for a flat or slow curve, down for a rising, exploding or oscillating one).
OVERFIT_RETRY_LR_FACTOR = 3.0

# ------------------------------------------------------------------------------------ regularization_effect

#: Largest relative difference between the loss curves with and without regularisation below which the
#: regularisation changed nothing at all (identical seeds and batches give identical curves otherwise).
REGULARIZATION_IDENTICAL_TOLERANCE = 1e-6
#: The regularised run should still remove at least this share of the initial loss on the tiny batch
#: (a regulariser that leaves less than half of the fit possible on a few samples would stop real training
#: too); less means the regularisation is too strong or mis-wired.
REGULARIZATION_MIN_DECREASE = 0.5

# ------------------------------------------------------------------------------------------------ causality

#: Positions probed: the output at each is back-propagated to every input position (Karpathy's "use backprop
#: to chart dependencies"); 0 and 1 catch most leaks, the rest spread over the window.
CAUSALITY_PROBES = 6
#: Gradient reaching later positions, relative to the largest gradient reaching the position itself or earlier
#: ones, above which the output sees the future. A causal model gives exactly 0 (masked attention scores are
#: -inf or underflow to a weight of exactly 0; a recurrence has no path back); a leak gives order 1. The
#: batch_independence tolerance, for the same reason.
CAUSALITY_GRADIENT_TOLERANCE = GRADIENT_LEAK_TOLERANCE
#: |output with the later tokens changed - output| at the probed and earlier positions, relative to the
#: outputs' root-mean-square. Same shapes run the same kernels, so a causal model gives the same values to
#: the last bit in float32 (1e-4 leaves room for reduced-precision kernels); a leak changes them by 1e-2 to 1.
CAUSALITY_FORWARD_TOLERANCE = 1e-4
#: On one token repeated at every position, the outputs must differ across positions by more than this,
#: relative to their root-mean-square: a model without positions (attention over a set of identical tokens)
#: gives the same value up to float rounding (about 1e-7); positions, a recurrence or a convolution's padding
#: make them differ by 1e-3 or more.
POSITION_SPREAD_TOLERANCE = 1e-5

# --------------------------------------------------------------------------------------------- target_shift

#: Share of the positions where ``targets[:, t] == inputs[:, t + k]`` above which the targets are the inputs
#: shifted by k. A true shift matches everywhere (1.0); chance matches in natural text are a few percent (a
#: doubled letter); 0.99 leaves room for a few corrupted windows.
TARGET_SHIFT_MATCH = 0.99
#: Shifts tried on each side of 0.
TARGET_SHIFT_RANGE = 3
