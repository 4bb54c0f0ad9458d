"""Evaluation harness: how well the analyzer's scores route between a weak and a strong model.

- :mod:`.data` reads an evaluation file (prompts with both models' outcomes);
- :mod:`.curve` sweeps thresholds and computes APGR, CPT and savings (RouteLLM's figures);
- :mod:`.report` puts the analyzer beside the random and prompt-length baselines;
- :mod:`.costs` prices prompts from the price table when the file has no costs;
- :mod:`.calibration` picks the threshold for a target share of strong calls;
- :mod:`.plot` draws the curves. Scoring a file with an analyzer and evaluating it (the
  `eval` and `calibrate` commands) is :mod:`agent_routing.analyzer.evaluate`, above both:
  this package never imports the analyzer.
"""
