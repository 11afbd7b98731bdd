"""`python -m keras_mtcrl_cli`: the `keras-mtcrl` command."""

import sys

from keras_mtcrl_cli.launcher import main

sys.exit(main())
