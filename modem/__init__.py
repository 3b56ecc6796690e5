"""Fax modem library: AT protocol, T.30, Class 1/2 drivers, simulated phone network.

This package is standalone: it must never import ``umfax`` or ``connectors``.
"""
