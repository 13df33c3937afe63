"""python -m musegen"""

import sys

from musegen.cli.app import main

sys.exit(main())
