#!/usr/bin/env python3
"""ssflow-search command line: ``python run_search.py --help``."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
