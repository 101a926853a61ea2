"""The detectors: functions of numpy arrays that return :class:`~dlcheck.curves.findings.Finding` lists.

- :mod:`~dlcheck.curves.detectors.instability`: ``nan``, ``spike``, ``divergence``;
- :mod:`~dlcheck.curves.detectors.progress`: ``plateau``, ``random_performance``, ``no_trend``,
  ``slow_convergence``, ``underfitting``;
- :mod:`~dlcheck.curves.detectors.oscillation`: ``oscillation``, ``periodicity``;
- :mod:`~dlcheck.curves.detectors.generalization`: ``overfitting``, ``generalization_gap``,
  ``loss_accuracy_mismatch``, and the early-stopping simulation behind ``best_step``.
"""
