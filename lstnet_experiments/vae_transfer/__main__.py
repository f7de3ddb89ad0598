import sys

from lstnet_experiments.vae_transfer.command import main

sys.exit(main())
