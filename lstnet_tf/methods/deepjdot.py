"""DeepJDOT, Deep Joint Distribution Optimal Transport (Damodaran, Kellenberger, Flamary,
Tuia and Courty, ECCV 2018; official Keras code bbdamodaran/deepJDOT), on LSTNet's Table 1
encoders.

A domain-adaptation method: it trains with the labels of one domain (the source s, the
config's ``train.labelled_domain``) and yields a classifier f o g of the other (the target t),
not a translator. g is the encoder of each domain, E1 = E_s o E1* for MNIST and E2 = E_s o E2*
for USPS (the Table 1 encoders, their upper layers shared); f is one class head, a Flatten and
a 10-way Dense layer on the 7x7 latent, for both domains. Each step, on a class-balanced
source batch (x_s, y_s) and a target batch x_t:

    C_ij  = alpha ||g(x_s,i) - g(x_t,j)||^2 + lambda_t L(y_s,i, f(g(x_t,j)))
    gamma = argmin_{gamma in Pi(1/n_s, 1/n_t)} <gamma, C>           exact OT (POT's ot.emd)
    loss  = w_s mean_i CE(y_s,i, f(g(x_s,i)))
            + lambda_t sum_ij gamma_ij CE(y_s,i, f(g(x_t,j)))   ("target_classification")
            + alpha    sum_ij gamma_ij ||g(x_s,i) - g(x_t,j)||^2 ("alignment")

with gamma held fixed in the gradient step (it is recomputed from the current features next
step). L is the cross-entropy (the paper) or, as a switch, the official code's squared error
between the one-hot label and f's softmax (``deepjdot.transport.label_cost``). The weights,
batch sizes and the warm start are the ``deepjdot`` config section
(``method_config.DeepJDOTConfig``), by default the official script's: alpha 1e-3,
lambda_t 1e-4, w_s 1, 50 images per class + 500 target images a step, g and f first trained
on the source labels (Adam 2e-4, batch 128, 10 epochs).

Departures, each to keep the rest equal to LSTNet's: the networks (the official g is its own
CNN with a 128-d sigmoid feature; here the feature is the flattened Table 1 latent), the
optimiser, schedule, step count and weight average of the preset (official: Adam 1e-4, 15 000
steps); one training-mode forward pass per step computes both the plan and the loss (the
official code predicts in inference mode first; its network has no BatchNorm, ours has, so
the two would differ only in that). The warm start trains E_s o E_s* and f; the target's
private encoder E_t* starts from a copy of E_s*'s weights where their shapes agree (layers
1-3; layer 4's kernels differ between the domains), so that g starts as one network for both
domains, as DeepJDOT's single g does.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lstnet_tf.classifier import train_classifier
from lstnet_tf.config import ClassifierConfig
from lstnet_tf.domains import NUM_CLASSES
from lstnet_tf.lstnet import LSTNet
from lstnet_tf.method_config import DeepJDOTWeights
from lstnet_tf.methods.adaptation import TrainedWithLabels
from lstnet_tf.models import build_head


def transport_plan(cost, max_iterations: int = 1_000_000):
    """The exact optimal transport plan between uniform weights on the rows and the columns of
    ``cost`` (n_s x n_t, float64; POT's network simplex). Raises if it stops short."""
    import ot

    n_s, n_t = cost.shape
    plan, log = ot.emd(np.full(n_s, 1.0 / n_s), np.full(n_t, 1.0 / n_t), cost,
                       numItermax=max_iterations, log=True)
    if log["result_code"] != 1:
        raise RuntimeError(f"ot.emd did not reach the optimum ({log['warning']}); raise "
                           "deepjdot.transport.max_iterations")
    return plan


def squared_distances(a, b):
    """||a_i - b_j||^2 for rows a_i, b_j (float32)."""
    return (tf.reduce_sum(tf.square(a), axis=1)[:, None] + tf.reduce_sum(tf.square(b), axis=1)[None, :]
            - 2.0 * tf.matmul(a, b, transpose_b=True))


def label_costs(labels, logits, kind: str):
    """L(y_i, f_j) for every source label i and target prediction j: the cross-entropy
    -log softmax(f_j)[y_i], or the squared error ||onehot(y_i) - softmax(f_j)||^2."""
    if kind == "cross_entropy":
        return -tf.transpose(tf.gather(tf.nn.log_softmax(logits), labels, axis=1))
    return squared_distances(tf.one_hot(labels, NUM_CLASSES), tf.nn.softmax(logits))


@keras.saving.register_keras_serializable(package="lstnet_tf")
class DeepJDOT(TrainedWithLabels, LSTNet):
    WEIGHTS = DeepJDOTWeights
    DISCRIMINATOR_TERMS = ()
    GENERATOR_TERMS = ("source_classification", "target_classification", "alignment")

    def __init__(self, *args, label_cost: str = "cross_entropy",
                 max_iterations: int = 1_000_000, latent_discriminator: bool = False, **kwargs):
        if latent_discriminator:
            raise ValueError("DeepJDOT has no discriminator: latent_discriminator must be False")
        super().__init__(*args, latent_discriminator=False, **kwargs)
        self.label_cost, self.max_iterations = label_cost, max_iterations
        self.class_head = build_head(self.networks.enc_1.outputs[0].shape[1:], NUM_CLASSES, "f")

    def get_config(self) -> dict:
        return {**super().get_config(), "label_cost": self.label_cost,
                "max_iterations": self.max_iterations}

    @property
    def discriminator_variables(self):
        return []

    @property
    def translator_variables(self):
        """g (both encoders, E_s once) and f: everything the objective trains."""
        n = self.networks
        parts = [*n.private_encoders, *dict.fromkeys(n.shared_encoders), self.class_head]
        return [v for m in parts for v in m.trainable_variables]

    def term_weights(self) -> dict[str, float]:
        w = self.loss_weights
        return {"source_classification": w.source_classification,
                "target_classification": w.target_classification, "alignment": w.alignment}

    def encoder(self, d):
        return self.networks.encoders[d.position]

    def stream_settings(self, config, labels: tuple | None = None) -> dict:
        """Class-balanced batches of the labelled domain, with its labels, and plain batches
        of the unlabelled one (``deepjdot.batch``)."""
        batch = config.deepjdot.batch
        sizes = [batch.target, batch.target]
        sizes[self.labelled.position] = batch.source_per_class * NUM_CLASSES
        return {**super().stream_settings(config, labels), "batch_size": tuple(sizes),
                "per_class": batch.source_per_class}

    def pretrain(self, config, images: tuple, labels: tuple, seed: int,
                 verbose: int = 1) -> dict:
        """The warm start: g_s and f trained on the labelled domain's training labels
        (``config.deepjdot.warm_start``), then E_t*'s layers that match E_s*'s copied."""
        settings, s, t = config.deepjdot.warm_start, self.labelled, self.unlabelled
        # The preset's cap on a classifier epoch applies (smoke: a few steps).
        loop = ClassifierConfig(batch_size=settings.batch_size,
                                learning_rate=settings.learning_rate, augment=False,
                                steps_per_epoch=config.classifier.steps_per_epoch)
        print(f"Warm start: g = E{s.index} and f as a {s.name} classifier on its training "
              f"labels ({settings.epochs} epochs)", flush=True)
        x, y = images[s.position], labels[s.position]
        _, training_accuracy = train_classifier(
            f"deepjdot_{s.name}", (x, y), (x, y), loop, seed, settings.epochs, verbose,
            backbone=self.encoder(s), head=self.class_head)
        copied = []
        source_private = self.networks.private_encoders[s.position]
        target_private = self.networks.private_encoders[t.position]
        # Layer by layer up to the first whose weights differ in shape (conv4's kernel).
        for source_layer, target_layer in zip(source_private.layers, target_private.layers):
            shapes = [w.shape for w in source_layer.weights]
            if shapes != [w.shape for w in target_layer.weights]:
                break
            if shapes:
                target_layer.set_weights(source_layer.get_weights())
                copied.append(target_layer.name)
        return {"warm_start": {"domain": s.name, "epochs": settings.epochs,
                               "batch_size": settings.batch_size,
                               "training_accuracy": training_accuracy,
                               f"E{t.index}_private_layers_copied_from_E{s.index}": copied}}

    def translate_all(self, x1, x2, training: bool) -> dict:
        """g and f of both batches, in the labelled (s) / unlabelled (t) roles."""
        images = (x1, x2)
        t = {}
        for role, d in (("s", self.labelled), ("t", self.unlabelled)):
            features = self.encoder(d)(images[d.position], training=training)
            t[f"g_{role}"] = tf.reshape(tf.cast(features, tf.float32),
                                        (tf.shape(features)[0], -1))
            t[f"f_{role}"] = self.class_head(features, training=training)
        return t

    def plan(self, t) -> tf.Tensor:
        """gamma for this step's batches, from the current features (no gradient)."""
        w = self.loss_weights
        cost = tf.stop_gradient(w.alignment * squared_distances(t["g_s"], t["g_t"])
                                + w.target_classification * label_costs(
                                    t["labels"], t["f_t"], self.label_cost))
        plan = tf.numpy_function(lambda c: transport_plan(c, self.max_iterations),
                                 [tf.cast(cost, tf.float64)], tf.float64, stateful=False)
        return tf.cast(tf.reshape(plan, tf.shape(cost)), tf.float32)

    def generator_terms(self, x1, x2, t) -> dict:
        if "plan" not in t:
            t["plan"] = self.plan(t)
        gamma, labels = t["plan"], t["labels"]
        return {
            "source_classification": lambda: tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, t["f_s"])),
            "target_classification": lambda: tf.reduce_sum(
                gamma * label_costs(labels, t["f_t"], "cross_entropy")),
            "alignment": lambda: tf.reduce_sum(gamma * squared_distances(t["g_s"], t["g_t"])),
        }

    # ------------------------------------------------------------ inference

    def scored_parts(self, direction: str) -> list:
        """The unlabelled domain's classifier f o E_t: E_t*, E_s, f. ``direction`` must be
        the Table 2 row this model adapts (``directions``)."""
        self.check_direction(direction)
        n, p = self.networks, self.unlabelled.position
        return [n.private_encoders[p], n.shared_encoders[p], self.class_head]
