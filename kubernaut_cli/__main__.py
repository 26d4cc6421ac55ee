"""`python -m kubernaut_cli`: the same as the `kubernaut` console script."""

import sys

from kubernaut_cli.main import main

sys.exit(main())
