"""The harness's pytest plugin is registered through its `pytest11` entry point
(pyproject.toml). Loading it here as well keeps a plain checkout working before
`pip install -e .` has written the entry point."""

import importlib.metadata

if not any(ep.value == "harness.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11")):
    pytest_plugins = ["harness.pytest_plugin"]
