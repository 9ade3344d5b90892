"""Routes in the YAML config and their policies: residency, pseudonymization, strategy (fallback, cascade
with its verifiers, router), budgets at the limit, shadow traffic."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .models import LOCALITY_PATTERN, Strict

SENSITIVITY_CLASSES = ("pii", "financial", "health", "secret")


class ShadowConfig(Strict):
    """Ask another model the same question on a sample of a route's live traffic, to compare it with what the
    route answered from real prompts. Its answer is recorded in an eval run, never returned to the client.
    The prompt and both answers are stored (in the eval run), so a team under zero retention is never
    shadowed. The shadow call passes the same policies (access, residency, budgets) as any call and is
    billed to the same team, under the ledger endpoint ``shadow``."""

    model: str = Field(min_length=1, description="the candidate model to shadow")
    sample: float = Field(gt=0, le=1, description="share of the route's requests also sent to the candidate")
    run: str | None = Field(default=None, description="eval run recording the pairs (default shadow-<route>-<model>)")
    max_in_flight: int = Field(
        default=8, ge=1, le=1024, description="shadow calls at once; past it a sample is skipped"
    )


class AgreementPolicy(Strict):
    """A cascade's agreement verifier (FrugalGPT-style, ``calls/agreement.py``): the ``quorum`` cheapest
    candidates are asked at once; when ``min_agree`` of their answers say the same, the cheapest of those
    answers is returned, otherwise the next candidate answers."""

    quorum: int = Field(default=2, ge=2, le=8, description="how many of the cheapest candidates are asked at once")
    min_agree: int | None = Field(
        default=None, ge=2, description="how many answers must say the same (default: all that were asked)"
    )
    compare: Literal["normalized", "choice", "number", "exact"] = Field(
        default="normalized",
        description=(
            "how answers are compared: normalized text (case, whitespace, punctuation ignored), the multiple-choice "
            "label picked, the final number, or the exact text; tool calls always by name and JSON-equal arguments"
        ),
    )
    choices: str | list[str] = Field(
        default="A-D", description="compare choice: the labels, e.g. A-E, ABCDE, 1-4 or a list"
    )

    @property
    def needed(self) -> int:
        return self.min_agree or self.quorum

    @model_validator(mode="after")
    def _at_most_asked(self) -> AgreementPolicy:
        if self.needed > self.quorum:
            raise ValueError(f"min_agree ({self.min_agree}) is more than the candidates asked (quorum {self.quorum})")
        return self


class GuardPolicy(Strict):
    """The output guard: every tool call and every JSON answer is checked before the client gets it (known
    tool, arguments that parse and match the tool's schema, ``tool_choice`` honoured, each parallel call;
    JSON that parses and matches ``response_format``'s schema). On by default, on every route and for a
    model named directly."""

    enabled: bool = Field(default=True, description="check tool calls and JSON answers before they are served")
    repair: bool = Field(
        default=True,
        description="on an invalid answer, ask the same model once more with the validation error and the schema "
        "(constrained by grammar where the model's server enforces `tool_choice`: see the model's `guard`)",
    )
    escalate: bool = Field(
        default=True, description="then try the route's next candidates in order, each answer checked again"
    )
    confirm_calls: bool = Field(
        default=False,
        description="a call the model chose to make (`tool_choice` auto) is served only when the route's next "
        "candidate, asked the same request, also calls a tool; if it answers without a call, its answer is served "
        "(a call where none was wanted). One more call per such call; off by default",
    )


class RoutePolicy(Strict):
    """How a route narrows and orders its candidates, beyond the fallback order."""

    residency: dict[str, list[str]] = Field(
        default_factory=dict,
        description="sensitivity class -> localities allowed to receive it, e.g. {health: [on_prem]}",
    )
    pseudonymize: bool = Field(
        default=False, description="replace detected spans with placeholders before they leave the perimeter"
    )
    pseudonymize_context: bool = Field(
        default=False,
        description=(
            "with pseudonymize: also let a confidential RAG collection's context leave masked (only its detected "
            "spans are replaced); by default such context stays in the residency rules' localities"
        ),
    )
    unscannable: Literal["restrict", "refuse", "allow"] = Field(
        default="restrict",
        description=(
            "parts the detector cannot read (images, audio, files) on a request under residency rules: restrict = "
            "taken as every class (kept in the perimeter), refuse = 403, allow = ignored"
        ),
    )
    premium: str | None = Field(
        default=None, description="the model the counterfactual cost is computed against (default: priciest)"
    )
    strategy: Literal["fallback", "cascade", "router"] = Field(
        default="fallback",
        description=(
            "fallback: candidates in order; cascade: cheapest first, escalating when a verifier refuses; "
            "router: the cheapest candidate the trained router predicts good enough, the premium model otherwise"
        ),
    )
    min_confidence: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description=(
            "strategy cascade: escalate when the answer's mean token probability (from logprobs, where the "
            "upstream gives them) is below this"
        ),
    )
    verifier: Literal["checks", "agreement"] = Field(
        default="checks",
        description=(
            "strategy cascade: checks = each cheaper answer is judged on its own (structured output, tool arguments, "
            "min_confidence); agreement = the cheapest candidates are asked at once and must agree (`agreement`)"
        ),
    )
    agreement: AgreementPolicy | None = Field(
        default=None,
        description="verifier agreement: how many candidates are asked and how their answers are compared "
        "(given alone, it sets verifier agreement)",
    )
    router: str | None = Field(
        default=None,
        description="strategy router: the artifact directory `switchyard router fit` wrote (relative to the config file)",
    )
    target_quality: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="strategy router: the share of the best model's quality to keep (of the premium model's, for a "
        "two-model artifact)",
    )
    on_limit: Literal["reject", "downgrade"] = Field(
        default="reject", description="at a budget limit: 429, or fall back to cheaper candidates that still fit"
    )
    shadow: ShadowConfig | None = Field(default=None, description="off by default: see ShadowConfig")
    guard: GuardPolicy = Field(default_factory=GuardPolicy, description="the output guard: see GuardPolicy")

    @model_validator(mode="after")
    def _router_artifact(self) -> RoutePolicy:
        if self.strategy == "router" and not self.router:
            raise ValueError("strategy router needs `router`: the directory `switchyard router fit` wrote")
        return self

    @model_validator(mode="after")
    def _agreement(self) -> RoutePolicy:
        if self.agreement is not None and "verifier" not in self.model_fields_set:
            self.verifier = "agreement"
        if self.verifier == "checks" and self.agreement is not None:
            raise ValueError("`agreement` settings need verifier: agreement")
        if self.verifier == "agreement":
            if self.strategy != "cascade":
                raise ValueError("verifier agreement needs strategy: cascade")
            if self.agreement is None:
                self.agreement = AgreementPolicy()
        return self

    @model_validator(mode="after")
    def _known_classes(self) -> RoutePolicy:
        for cls, localities in self.residency.items():
            if cls not in SENSITIVITY_CLASSES:
                raise ValueError(f"residency: unknown class {cls!r} (known: {', '.join(SENSITIVITY_CLASSES)})")
            for loc in localities:
                if not LOCALITY_PATTERN.match(loc):
                    raise ValueError(f"residency.{cls}: {loc!r} is not a locality (on_prem or a region code)")
        return self


class RouteConfig(Strict):
    name: str = Field(min_length=1)
    models: list[str] = Field(min_length=1, description="candidate models, in fallback order")
    policy: RoutePolicy = Field(default_factory=RoutePolicy)

    @model_validator(mode="after")
    def _room_to_escalate(self) -> RouteConfig:
        agreement = self.policy.agreement
        if agreement is not None and len(self.models) <= agreement.quorum:
            raise ValueError(
                f"verifier agreement asks the {agreement.quorum} cheapest candidates and escalates to a pricier one: "
                f"the route needs at least {agreement.quorum + 1} models"
            )
        return self
