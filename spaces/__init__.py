"""Search spaces: YAML definitions beside this file, validated on load."""
