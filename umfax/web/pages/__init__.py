"""Console pages, one module per family, each with a FastAPI ``router``."""
