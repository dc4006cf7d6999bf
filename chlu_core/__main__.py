"""``python -m chlu_core``: see :mod:`chlu_core.cli`."""
import sys

from .cli import main

sys.exit(main())
