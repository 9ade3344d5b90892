"""Route policies: each narrows or orders a request's candidate models and records why."""

from .base import Policy, RoutingContext
from .pipeline import PolicyPipeline, default_policies

__all__ = ["Policy", "PolicyPipeline", "RoutingContext", "default_policies"]
