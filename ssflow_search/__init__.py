"""ssflow-search from Python: train a category, run a sweep, read its store, load a model and predict.

The functions run the same code as the ``ssflow-search`` command line (each
takes that command's settings as typed arguments), print nothing unless given
a ``console``, and raise :class:`ssflow.errors.UserInputError` (one line) for
bad input instead of exiting::

    from ssflow_search import load_model, train

    metrics = train("demo", "wood", out="models/wood", epochs=2)
    model = load_model("models/wood/model.pt")
    table = model.predict(["data/demo/wood/test/ko"])  # a pandas frame: path, score, anomalous, ...
"""

from ssflow_search.api import Model, Store, load_model, sweep, train

__all__ = ["Model", "Store", "load_model", "sweep", "train"]
