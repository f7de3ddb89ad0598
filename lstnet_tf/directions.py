"""The two translation directions and their domains, written once (no TensorFlow import).

Domain 1 is MNIST, domain 2 USPS (``lstnet_tf.domains``). USPS->MNIST is G1 o E2, MNIST->USPS
G2 o E1.
"""

DIRECTIONS = ("usps_to_mnist", "mnist_to_usps")
DIRECTION_LABELS = {"usps_to_mnist": "USPS→MNIST", "mnist_to_usps": "MNIST→USPS"}
# direction -> (source domain, target domain)
SOURCE_AND_TARGET = {"usps_to_mnist": ("usps", "mnist"), "mnist_to_usps": ("mnist", "usps")}
