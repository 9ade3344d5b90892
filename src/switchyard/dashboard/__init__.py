"""The web dashboard: spend, savings against the premium counterfactual, proprietary share, budgets,
route decisions and recent errors, rendered on the server from the ledger."""

from .data import DashboardData, load, model_source
from .routes import Dashboard

__all__ = ["Dashboard", "DashboardData", "load", "model_source"]
