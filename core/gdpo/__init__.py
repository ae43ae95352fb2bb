"""goodwe-dynamic-price-optimiser: a GoodWe hybrid inverter coordinator on Polish dynamic prices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("goodwe-dynamic-price-optimiser")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
