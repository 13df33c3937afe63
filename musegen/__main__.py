"""python -m musegen"""

import sys

from musegen.cli import main

sys.exit(main())
