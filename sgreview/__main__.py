import sys

from sgreview.cli import main

sys.exit(main())
