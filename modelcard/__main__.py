import sys

from modelcard.cli import main

sys.exit(main())
