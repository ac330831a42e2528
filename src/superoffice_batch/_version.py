"""The package version, in a module of its own so that the client can name it in its
User-Agent without importing the package's ``__init__``."""

__version__ = "0.3.0"
