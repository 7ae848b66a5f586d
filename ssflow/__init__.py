"""ssflow: a self-supervised normalizing-flow image anomaly detector.

Chiu & Lai, "Self-supervised normalizing flows for image anomaly detection
and localization", CVPR 2023 Workshops (VAND).
"""

__version__ = "0.1.0"
