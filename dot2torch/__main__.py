"""`python -m dot2torch`."""

import sys

from .cli import main

sys.exit(main())
