"""Shipping a model: model.pt files, the inference pipeline, ONNX export, torch scoring, latency.

Imports everything below it; the torch-free station code lives in ``ssflow_runtime``.
"""
