"""Provider kinds by name. Built-in kinds register exactly like third-party ones would."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Deployment, ModelConfig
from ..errors import ConfigError
from .base import Provider, ProviderContext

ProviderFactory = Callable[[ModelConfig, Deployment, ProviderContext], Provider]


class ProviderRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, ProviderFactory] = {}

    def register(self, kind: str, factory: ProviderFactory) -> None:
        self._factories[kind] = factory

    def kinds(self) -> list[str]:
        return sorted(self._factories)

    def create(self, model: ModelConfig, deployment: Deployment, ctx: ProviderContext) -> Provider:
        try:
            factory = self._factories[model.provider]
        except KeyError:
            raise ConfigError(
                f"model {model.name!r}: unknown provider {model.provider!r} (known: {', '.join(self.kinds())})"
            ) from None
        return factory(model, deployment, ctx)


def default_registry() -> ProviderRegistry:
    """A fresh registry holding the built-in kinds. Imports are deferred so that a gateway without
    local models never imports llama.cpp or torch."""
    reg = ProviderRegistry()

    def openai(m: ModelConfig, d: Deployment, c: ProviderContext) -> Provider:
        from .openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(m, d, c)

    def anthropic(m: ModelConfig, d: Deployment, c: ProviderContext) -> Provider:
        from .anthropic import AnthropicProvider

        return AnthropicProvider(m, d, c)

    def llamacpp(m: ModelConfig, d: Deployment, c: ProviderContext) -> Provider:
        from .llamacpp import LlamaCppProvider

        return LlamaCppProvider(m, d, c)

    def sentence_transformers(m: ModelConfig, d: Deployment, c: ProviderContext) -> Provider:
        from .sentence_embed import SentenceTransformersProvider

        return SentenceTransformersProvider(m, d, c)

    for kind, factory in {
        "openai": openai,
        "anthropic": anthropic,
        "llamacpp": llamacpp,
        "sentence_transformers": sentence_transformers,
    }.items():
        reg.register(kind, factory)
    return reg
