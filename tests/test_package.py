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
    assert scripts == {"lstnet-reproduce": "lstnet_experiments.reproduction.reproduce:main",
                       "lstnet-translate": "lstnet_tf.translate:main"}
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function))
    assert "from lstnet_experiments.reproduction.reproduce import main" in (ROOT / "reproduce.py").read_text()


def test_presets_are_package_data():
    from lstnet_tf.config import CONFIG_DIR

    assert CONFIG_DIR == ROOT / "lstnet_tf" / "configs"
    assert {p.name for p in CONFIG_DIR.glob("*.yaml")} >= {"paper.yaml", "cpu.yaml", "smoke.yaml"}
    assert "configs/*.yaml" in PYPROJECT["tool"]["setuptools"]["package-data"]["lstnet_tf"]
    assert not (ROOT / "configs").exists()


def test_no_module_edits_sys_path():
    for path in [ROOT / "reproduce.py", *ROOT.glob("lstnet_*/**/*.py")]:
        assert "sys.path.insert" not in path.read_text() or path.name == "console.py", path


def test_the_help_of_each_entry_point_is_named_after_the_command_run():
    import subprocess
    import sys

    for command, name in ((["reproduce.py", "--help"], "usage: reproduce.py"),
                          (["-m", "lstnet_tf.translate", "--help"],
                           "usage: python -m lstnet_tf.translate"),
                          (["-m", "lstnet_experiments.studies.tune", "--help"],
                           "usage: python -m lstnet_experiments.studies.tune")):
        result = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.startswith(name), result.stdout[:200]
    text = subprocess.run([sys.executable, "reproduce.py", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120).stdout
    assert "--all | --summary | --experiment vae-transfer" in text


def test_installed_translate_finds_the_shipped_models_from_any_folder(tmp_path):
    """The package as pip installs it (its wheel, unpacked), run from a folder outside the
    checkout: the default translator and judges come from the package, labels are printed,
    and a --weights file that does not exist is 'no such file'."""
    import os
    import subprocess
    import sys
    import zipfile

    from PIL import Image, ImageDraw

    import shutil

    # Built from a copy of what the package is made of, so that no build/ lands in the checkout.
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    for part in ("lstnet_tf", "lstnet_experiments"):
        shutil.copytree(ROOT / part, source / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    site = tmp_path / "site"
    with zipfile.ZipFile(next(wheels.glob("*.whl"))) as wheel:
        wheel.extractall(site)
    assert {p.name for p in (site / "lstnet_tf" / "shipped").iterdir()} >= {
        "usps_to_mnist.keras", "mnist_to_usps.keras", "mnist_classifier.keras",
        "usps_classifier.keras", "README.md"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    digit = Image.new("L", (60, 60), 255)
    ImageDraw.Draw(digit).line([(15, 12), (45, 12), (25, 50)], fill=0, width=6)
    digit.save(elsewhere / "seven.png")
    env = {**os.environ, "PYTHONPATH": str(site)}
    for direction in ("usps-to-mnist", "mnist-to-usps"):
        result = subprocess.run(
            [sys.executable, "-m", "lstnet_tf.translate", "--direction", direction, "seven.png",
             "--out", "out"], cwd=elsewhere, env=env, capture_output=True, text=True,
            timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "classified as" in result.stdout and str(site) in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "lstnet_tf.translate", "--direction", "usps-to-mnist",
         "--weights", "nosuch.keras", "seven.png", "--out", "out2"], cwd=elsewhere, env=env,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "nosuch.keras: no such file" in result.stderr
