"""A :class:`SearchSpace` as Optuna distributions, and Optuna's parameter values as config values.

Optuna categorical choices must be None/bool/int/float/str, so list-valued
choices (``backbone.levels``) are stored as strings like ``"2,3"`` and
:func:`decode_params` restores them. Integer and float ranges include both
bounds, as the space's ``low`` and ``high`` do.
"""

from __future__ import annotations

from typing import Any, Mapping

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from spaces.space import ChoiceParam, FloatParam, IntParam, Param, SearchSpace


def encode_choice(value: Any) -> Any:
    """A choice as Optuna can store it: tuples and lists become ``"2,3"``, scalars stay."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return value


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """``{config key: distribution}`` for every searched parameter, in the space's order."""
    return {param.name: _distribution(param) for param in space.searched()}


def _distribution(param: Param) -> BaseDistribution:
    if isinstance(param, ChoiceParam):
        return CategoricalDistribution([encode_choice(value) for value in param.choices])
    if isinstance(param, FloatParam):
        return FloatDistribution(param.low, param.high, log=param.log)
    if isinstance(param, IntParam):
        return IntDistribution(param.low, param.high, log=param.log, step=param.step)
    raise TypeError(f"unsupported parameter {param!r}")


def params_from_values(space: SearchSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna parameters for flat config ``values`` (e.g. a base config), for ``enqueue_trial``.

    A searched key missing from ``values``, or a choice the space does not
    offer, is left out: Optuna then samples it (a value outside a numeric range
    is kept; Optuna records it with a warning).
    """
    params: dict[str, Any] = {}
    for param in space.searched():
        if param.name not in values:
            continue
        value = values[param.name]
        if isinstance(param, ChoiceParam):
            code = encode_choice(value)
            if code in [encode_choice(choice) for choice in param.choices]:
                params[param.name] = code
        else:
            params[param.name] = value
    return params


def decode_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's parameter values as flat config values: list choices restored as lists.

    Keys outside the space pass through unchanged. A choice that is not one of
    the space's raises ``ValueError``.
    """
    decoded = dict(params)
    for param in space.searched():
        if param.name in params:
            decoded[param.name] = _decode(param, params[param.name])
    return decoded


def _decode(param: Param, value: Any) -> Any:
    if isinstance(param, ChoiceParam):
        by_code = {encode_choice(choice): choice for choice in param.choices}
        if value not in by_code:
            raise ValueError(f"'{param.name}': {value!r} is not one of the space's choices {list(by_code)}")
        choice = by_code[value]
        return list(choice) if isinstance(choice, tuple) else choice
    if isinstance(param, IntParam):
        return int(value)  # Optuna may hand back numpy integers
    return float(value)
