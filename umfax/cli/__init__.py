"""The ``umfax`` command line."""
