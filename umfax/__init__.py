"""umfax: fax server and unified-messaging integration service."""

__version__ = "0.1.0"
