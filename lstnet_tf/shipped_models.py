"""The shipped standalone models: where they are, and loading them with checks and clear errors.

``reproduce.py --all`` writes, per seed, ``results/<preset>/models/seed<N>/<direction>.keras``
(the scored translator, plain Keras layers) and ``<domain>_classifier.keras`` (the judging
classifier of that domain).

They are stored in float16 (``save_shipped``): half the size, which keeps a width-0.5 translator
(6.7 MB in float32) under the repository's 5 MiB limit for a file. The loaders here give such a
file float32 layers (the file does not record the precision it was scored in, which was
mixed_bfloat16 for the bfloat16 runs); a plain ``keras.saving.load_model`` gives the float16
model itself. Files saved in float32 load as they were saved.
"""

from __future__ import annotations

from pathlib import Path

from lstnet_tf.console import UserFacingError
from lstnet_tf.domains import NUM_CLASSES, domain
from lstnet_tf.directions import DIRECTIONS as DIRECTION_KEYS
from lstnet_tf.directions import SOURCE_AND_TARGET

# The default translators and the judges that label them, shipped inside the package (so an
# installed lstnet-translate finds them anywhere): lstnet_tf/shipped/README.md says which.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "shipped"
# command-line direction -> (file-name key, source domain, target domain)
DIRECTIONS = {key.replace("_", "-"): (key, *SOURCE_AND_TARGET[key]) for key in DIRECTION_KEYS}


class ModelFileError(UserFacingError):
    """A weights or classifier file is missing or unusable; the message says how to fix it."""


def direction_key(direction: str) -> str:
    """``usps_to_mnist`` / ``mnist_to_usps`` for either spelling of ``direction``."""
    spelled = direction.replace("_", "-")
    if spelled not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    return DIRECTIONS[spelled][0]


def direction_domains(direction: str) -> tuple[str, str, str]:
    return DIRECTIONS[direction_key(direction).replace("_", "-")]


def default_weights(direction: str) -> Path:
    """The shipped seed-0 translator of ``direction`` (may not exist yet)."""
    return DEFAULT_MODEL_DIR / f"{direction_key(direction)}.keras"


def default_classifier(weights: Path, direction: str) -> Path | None:
    """``<weights folder>/<target>_classifier.keras`` if that file exists, else None."""
    path = Path(weights).parent / f"{direction_domains(direction)[2]}_classifier.keras"
    return path if path.is_file() else None


def missing_weights_message(path: Path, direction: str, given: bool = True) -> str:
    """What to say when a translator file is not there: a path the user gave is a typo or a
    missing file; the shipped default missing means a broken installation."""
    key = direction_key(direction)
    if given:
        return (f"--weights {path}: no such file. Pass the path of a {key}.keras file (reproduce.py "
                f"writes them to <out>/models/seed<N>/), or leave --weights out to use the "
                "shipped one")
    return (f"the shipped translator {path} is missing: the installation is incomplete; "
            f"reinstall the package, or pass --weights PATH to a {key}.keras file")


STORAGE_DTYPE = "float16"


def with_dtype(model, dtype: str):
    """An uncompiled copy of ``model`` (nested models included) whose layers hold their weights
    and compute in ``dtype``, with ``model``'s weights cast to it. Raises ``ValueError`` if a
    weight does not fit in ``dtype``."""
    import keras
    import numpy as np

    def cast(weight):
        with np.errstate(over="ignore"):
            converted = weight.astype(dtype)
        if not np.all(np.isfinite(converted)) and np.all(np.isfinite(weight)):
            raise ValueError(f"a weight of {model.name} (largest magnitude "
                             f"{np.abs(weight).max():.3g}) does not fit in {dtype}")
        return converted

    copy = keras.models.clone_model(
        model, recursive=True,
        clone_function=lambda layer: layer.__class__.from_config(
            {**layer.get_config(), "dtype": dtype}))
    if copy.compiled:  # clone_model compiles the copy like the original: saved, it would
        copy = copy.__class__.from_config(copy.get_config())  # carry Adam's moments (3x size)
    copy.set_weights([cast(weight) for weight in model.get_weights()])
    return copy


def save_shipped(model, path: Path) -> None:
    """Saves a float16 copy of ``model`` to ``path``: to a temporary name in the same folder,
    then renamed into place, so an interrupted save leaves no half-written file."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        with_dtype(model, STORAGE_DTYPE).save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model_file(path: Path, what: str):
    """The Keras model in ``path``; a file stored in float16 comes back with float32 layers,
    a float32 file as it was saved (layers of a mixed-precision run keep their policy). A
    ``ModelFileError`` naming ``what`` if it cannot be read."""
    import keras

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{what} {path} is a folder; pass the .keras file inside it")
    try:
        model = keras.saving.load_model(path, compile=False)
        if any(weight.dtype == STORAGE_DTYPE for weight in model.weights):
            model = with_dtype(model, "float32")
    except Exception as error:  # noqa: BLE001 - keras raises many types for a bad file
        detail = " ".join(str(error).split())[:300] or type(error).__name__
        raise ModelFileError(f"cannot load {what} {path} as a Keras model ({detail})") from None
    return model


def _input_side(model) -> tuple:
    return tuple(model.inputs[0].shape[1:])


def load_translator(weights: Path, direction: str):
    """The translator model of ``direction`` from a .keras file, checked against the
    direction's image sizes. Raises ``ModelFileError`` with a fix when it is missing or wrong."""
    key, source, target = direction_domains(direction)
    weights = Path(weights)
    if not weights.exists():
        raise ModelFileError(missing_weights_message(weights, direction))
    model = load_model_file(weights, "translator weights")
    check_translator(model, weights, direction)
    return model


def check_translator(model, where, direction: str) -> None:
    key, source, target = direction_domains(direction)
    expected_in = (domain(source).image_size, domain(source).image_size, 1)
    expected_out = (domain(target).image_size, domain(target).image_size, 1)
    got_in, got_out = _input_side(model), tuple(model.outputs[0].shape[1:])
    if got_in != expected_in or got_out != expected_out:
        raise ModelFileError(
            f"{where} maps {got_in} to {got_out}, but {key} needs {expected_in} -> "
            f"{expected_out}; pass the {key}.keras file")


def load_classifier(path: Path, direction: str):
    """The target-domain classifier at ``path``, checked to take target images."""
    target = direction_domains(direction)[2]
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no classifier at {path}: pass --classifier PATH to a Keras "
                             f"{domain(target).label} classifier (.keras) or leave the option out")
    model = load_model_file(path, "classifier")
    check_classifier(model, path, target)
    return model


def check_classifier(model, where, target: str) -> None:
    side = domain(target).image_size
    if _input_side(model) != (side, side, 1) or tuple(model.outputs[0].shape[1:]) != (NUM_CLASSES,):
        raise ModelFileError(
            f"classifier {where} maps {_input_side(model)} to {tuple(model.outputs[0].shape[1:])}"
            f", but a {domain(target).label} classifier maps {(side, side, 1)} to ({NUM_CLASSES},)")
