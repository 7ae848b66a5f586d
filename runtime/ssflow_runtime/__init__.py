"""ssflow-runtime: score images with an exported ssflow ``.onnx`` model at the station, without torch.

Needs only onnxruntime, numpy and OpenCV. ``ssflow-predict --model model.onnx --out OUT IMAGES...``
writes what ``ssflow-search predict`` writes; in Python, :func:`ssflow_runtime.predict.run_predict`.
"""

__version__ = "0.1.0"
