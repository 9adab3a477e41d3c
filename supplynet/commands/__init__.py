"""Sub-commands of ``supplynet``, one module each, registered in ``supplynet/cli.py``."""
