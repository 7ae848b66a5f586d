"""Turn a :class:`SearchSpace` into Ray Tune domains that ``OptunaSearch`` accepts, and back.

Two mismatches are handled here and nowhere else:

* ``tune.randint``/``tune.lograndint`` exclude their upper bound while a space's
  ``high`` is inclusive (``tune.qrandint`` includes it).
* Optuna categorical choices must be None/bool/int/float/str, so list-valued
  choices (``backbone.levels``) travel as strings like ``"2,3"`` and
  :func:`decode_params` restores them.
"""

from __future__ import annotations

from typing import Any, Mapping

from ray import tune

from spaces.space import ChoiceParam, FixedParam, FloatParam, IntParam, Param, SearchSpace


def encode_choice(value: Any) -> Any:
    """A choice as Optuna can store it: tuples become ``"2,3"``, scalars stay."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return value


def to_tune_param_space(space: SearchSpace) -> dict[str, Any]:
    """Flat ``{config key: Tune domain or constant}`` for ``Tuner(param_space=...)``.

    Constants are plain values (lists for list-valued keys); Tune passes them
    through to every trial untouched.
    """
    return {param.name: _domain(param) for param in space.params}


def _domain(param: Param) -> Any:
    if isinstance(param, FixedParam):
        return list(param.value) if isinstance(param.value, tuple) else param.value
    if isinstance(param, ChoiceParam):
        return tune.choice([encode_choice(value) for value in param.choices])
    if isinstance(param, FloatParam):
        return tune.loguniform(param.low, param.high) if param.log else tune.uniform(param.low, param.high)
    if isinstance(param, IntParam):
        if param.log:
            return tune.lograndint(param.low, param.high + 1)  # upper bound exclusive
        if param.step > 1:
            return tune.qrandint(param.low, param.high, param.step)  # quantised: upper bound inclusive
        return tune.randint(param.low, param.high + 1)  # upper bound exclusive
    raise TypeError(f"unsupported parameter {param!r}")


def decode_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's sampled dict as flat config values: list choices restored as lists.

    Keys outside the space (constants a search adds itself, e.g. ``train.epochs``)
    pass through unchanged. A space parameter missing from ``params`` is a bug in
    the caller and raises ``KeyError``.
    """
    decoded = dict(params)
    for param in space.params:
        if param.name not in params:
            raise KeyError(f"trial parameters lack '{param.name}' of space '{space.name}'")
        decoded[param.name] = _decode(param, params[param.name])
    return decoded


def _decode(param: Param, value: Any) -> Any:
    if isinstance(param, ChoiceParam):
        by_code = {encode_choice(choice): choice for choice in param.choices}
        if value not in by_code:
            raise ValueError(f"'{param.name}': {value!r} is not one of the space's choices {list(by_code)}")
        choice = by_code[value]
        return list(choice) if isinstance(choice, tuple) else choice
    if isinstance(param, FixedParam):
        return list(param.value) if isinstance(param.value, tuple) else param.value
    if isinstance(param, IntParam):
        return int(value)  # Optuna may hand back numpy integers
    return float(value)
