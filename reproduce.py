#!/usr/bin/env python
"""Regenerates Table 2 of the LSTNet paper and its figures: ``python reproduce.py --help``.

The command lives in ``lstnet_experiments/reproduction/reproduce.py`` (installed as ``lstnet-reproduce``);
this file runs it from a checkout, where Python finds the packages beside it.
"""

import sys

from lstnet_experiments.reproduction.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
