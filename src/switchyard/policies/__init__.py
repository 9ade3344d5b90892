"""Route policies: each narrows or orders a request's candidate models and records why."""

from .base import Classifier, Policy, PolicyDeps, PolicyFactory, RoutingContext
from .pipeline import PolicyPipeline, default_policies

__all__ = [
    "Classifier",
    "Policy",
    "PolicyDeps",
    "PolicyFactory",
    "PolicyPipeline",
    "RoutingContext",
    "default_policies",
]
