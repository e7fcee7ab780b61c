"""`python -m recorder_agent`: the seed's entry point, the same as `python -m recorder`."""

import sys

from recorder.__main__ import main

sys.exit(main())
