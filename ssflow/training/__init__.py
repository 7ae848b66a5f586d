"""Fitting the flows: synthesis and its bank, the feature cache, relit views, run inputs, the training loop.

Imports the model, the data and evaluation (selection during training); deployment builds on it.
"""
