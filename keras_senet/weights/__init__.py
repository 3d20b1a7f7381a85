"""Pretrained weights: sources, download / verification / cache, loading."""

from keras_senet.weights.sources import EvalTransform, WeightSource, find_source, sources_for

__all__ = ["EvalTransform", "WeightSource", "find_source", "sources_for"]
