"""Prometheus metrics of gdpo: ``from gdpo.metrics import metrics_app``.

``metrics_app(storage)`` serves what ``gdpo web`` can read from the database;
``metrics_app(storage, coordinator=coordinator)`` adds what the running coordinator lives
through. Every metric is described in docs/METRICS.md.
"""

from gdpo.metrics.app import MetricsApp, metrics_app

__all__ = ["MetricsApp", "metrics_app"]
