"""switchyard: an OpenAI- and Anthropic-compatible LLM gateway.

The public API is what ``__all__`` lists; everything else may change between releases.
"""

from .calls import CallInfo, ChatResult, ChatStream, EmbeddingResult
from .config import GatewayConfig, ModelConfig, RouteConfig, Settings, load_config
from .errors import (
    AuthenticationFailed,
    ConfigError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SwitchyardError,
    UpstreamError,
)
from .gateway import Gateway
from .policies import Policy, PolicyDeps, RoutingContext, default_policies
from .providers.base import Provider, ProviderContext
from .providers.registry import ProviderRegistry, default_registry
from .server.app import create_app
from .types import ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse, Principal, Usage

__version__ = "0.1.0"

__all__ = [
    "AuthenticationFailed",
    "CallInfo",
    "ChatRequest",
    "ChatResponse",
    "ChatResult",
    "ChatStream",
    "Chunk",
    "ConfigError",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingResult",
    "Gateway",
    "GatewayConfig",
    "InvalidRequest",
    "ModelConfig",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Policy",
    "PolicyDeps",
    "Principal",
    "Provider",
    "ProviderContext",
    "ProviderRegistry",
    "RateLimited",
    "RouteConfig",
    "RoutingContext",
    "Settings",
    "SwitchyardError",
    "UpstreamError",
    "Usage",
    "__version__",
    "create_app",
    "default_policies",
    "default_registry",
    "load_config",
]
