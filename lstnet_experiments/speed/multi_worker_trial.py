"""Tries LSTNet's training step under tf.distribute.MultiWorkerMirroredStrategy: two worker
processes on localhost, configured by TF_CONFIG, one step of a tiny LSTNet each.

    python -m lstnet_experiments.speed.multi_worker_trial

Prints each worker's outcome: its step and losses, or the last line of its error. With Keras
3.15.1 / TensorFlow 2.21.0 both workers fail inside Keras' fit() (docs/devices.md, "Several
machines"), which is why lstnet_tf.devices refuses a multi-worker TF_CONFIG. Re-run it after
upgrading Keras: if both workers print the same losses, multi-worker training can be built.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys

TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def worker() -> None:
    """One worker: the strategy first (it reads TF_CONFIG), then one step on random images."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras
    import numpy as np

    from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
    from lstnet_tf.domains import MNIST, USPS
    from lstnet_tf.training import build_model

    config = ExperimentConfig(model=ModelConfig(width=0.0625), train=TrainConfig(
        steps=1, checkpoint_every=1, batch_size=8, precision="float32", devices=2))
    rng = np.random.default_rng(0)
    batch = (rng.uniform(-1, 1, (8, MNIST.image_size, MNIST.image_size, 1)).astype("float32"),
             rng.uniform(-1, 1, (8, USPS.image_size, USPS.image_size, 1)).astype("float32"))
    keras.utils.set_random_seed(0)
    model = build_model(config, "float32", strategy=strategy)
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=1, epochs=1,
              verbose=0)
    print(f"step {model.step}, losses {model.last_step_losses()}", flush=True)


def _outcome(output: str) -> str:
    """The worker's last line; for an error, from the line that names the exception."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if re.match(r"\w+(Error|Exception): ", line)]
    if not errors:
        return lines[-1] if lines else ""
    first = lines[errors[-1]]
    return first if errors[-1] == len(lines) - 1 else f"{first[:100]} ... {lines[-1][-100:]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args(argv).worker:
        worker()
        return 0
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "lstnet_experiments.speed.multi_worker_trial", "--worker"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for index in range(2)]
    worked = True
    for index, process in enumerate(processes):
        try:
            output, _ = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            output = "timed out"
        worked &= process.returncode == 0
        print(f"worker {index} (exit {process.returncode}): {_outcome(output)}")
    return 0 if worked else 1


if __name__ == "__main__":
    sys.exit(main())
