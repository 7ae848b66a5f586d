"""Judging a model: image and pixel metrics (AUROC, AUPRO), scoring splits, calibration, a shifted test set.

Imports the model and the prepared data; training and deployment build on it.
"""
