import sys

from lmkit.cli import main

sys.exit(main())
