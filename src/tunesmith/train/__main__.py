"""`python -m tunesmith.train CONFIG [options]`: the entry point for `accelerate launch` and `torchrun`."""

import sys

from tunesmith.cli.main import main

sys.exit(main(["train", *sys.argv[1:]]))
