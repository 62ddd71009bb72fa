"""`modelcard` with the test-only probes registered: what torchrun runs in each rank of the distributed tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cell_probes  # noqa: E402, F401

from modelcard.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
