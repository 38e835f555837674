"""Sampling: paired completions for labelling and SPIN self-play negatives, through one engine seam (vLLM or
transformers), written into the workspace with full provenance."""
