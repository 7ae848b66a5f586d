"""The run's settings: the config dataclasses and their flat keys, YAML files, presets, exported configs.

Imported by every other subpackage; imports none of them.
"""
