"""The installable package: its console scripts point at real commands, the presets ship
inside it, and the checkout's script needs no sys.path edit."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_console_scripts_name_the_commands_behind_both_spellings():
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts == {"lstnet-reproduce": "lstnet_experiments.reproduce:main",
                       "lstnet-translate": "lstnet_tf.translate:main"}
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function))
    assert "from lstnet_experiments.reproduce import main" in (ROOT / "reproduce.py").read_text()


def test_presets_are_package_data():
    from lstnet_tf.config import CONFIG_DIR

    assert CONFIG_DIR == ROOT / "lstnet_tf" / "configs"
    assert {p.name for p in CONFIG_DIR.glob("*.yaml")} >= {"paper.yaml", "cpu.yaml", "smoke.yaml"}
    assert "configs/*.yaml" in PYPROJECT["tool"]["setuptools"]["package-data"]["lstnet_tf"]
    assert not (ROOT / "configs").exists()


def test_no_module_edits_sys_path():
    for path in [ROOT / "reproduce.py", *ROOT.glob("lstnet_*/**/*.py")]:
        assert "sys.path.insert" not in path.read_text() or path.name == "console.py", path
