"""The detector: frozen backbone and its weights, features, one flow per level, subnets, loss, anomaly map.

Imports only ``ssflow.settings`` (and ``ssflow.datasets`` nowhere): the layers below training and evaluation.
"""
