"""The command line of run_search.py: argument parsing and all printing."""
