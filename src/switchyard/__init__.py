"""switchyard: an OpenAI- and Anthropic-compatible LLM gateway.

The public API is what ``__all__`` lists; everything else may change between releases.
"""

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
from .providers.base import Provider, ProviderContext
from .providers.registry import ProviderRegistry, default_registry
from .server.app import create_app
from .types import ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse, Principal, Usage

__version__ = "0.1.0"

__all__ = [
    "AuthenticationFailed",
    "ChatRequest",
    "ChatResponse",
    "Chunk",
    "ConfigError",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "Gateway",
    "GatewayConfig",
    "InvalidRequest",
    "ModelConfig",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Principal",
    "Provider",
    "ProviderContext",
    "ProviderRegistry",
    "RateLimited",
    "RouteConfig",
    "Settings",
    "SwitchyardError",
    "UpstreamError",
    "Usage",
    "__version__",
    "create_app",
    "default_registry",
    "load_config",
]
