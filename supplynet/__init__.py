"""supplynet composition root: settings, the ``supplynet`` command and the local stack manager."""

__version__ = "0.1.0"
