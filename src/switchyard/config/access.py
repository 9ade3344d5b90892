"""Who may call what: teams, their roles and retention, and budgets per team or key."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .models import Strict


class TeamConfig(Strict):
    """What a team's keys may call. ``*`` allows everything; an empty list nothing."""

    name: str = Field(min_length=1)
    models: list[str] = Field(default_factory=lambda: ["*"])
    routes: list[str] = Field(default_factory=lambda: ["*"])
    roles: list[str] = Field(default_factory=list, description="roles every key of the team has")
    retention: Literal["standard", "zero"] = Field(
        default="standard", description="zero: none of the team's content is stored (no eval shadowing)"
    )


class BudgetConfig(Strict):
    """Limits for one team or one key (exactly one of the two). Unset limits do not apply."""

    team: str | None = None
    key: str | None = Field(default=None, description="a key id (key_...), as `switchyard keys list` shows")
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    usd_per_day: float | None = Field(default=None, ge=0)
    usd_per_month: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_scope(self) -> BudgetConfig:
        if (self.team is None) == (self.key is None):
            raise ValueError("a budget names exactly one of `team` or `key`")
        return self

    @property
    def scope(self) -> str:
        return f"team:{self.team}" if self.team is not None else f"key:{self.key}"


class AccessConfig(Strict):
    teams: list[TeamConfig] = Field(default_factory=list)
    roles: dict[str, list[str]] = Field(
        default_factory=lambda: {"admin": ["*"]}, description="role -> admin actions it may perform"
    )
    unknown_teams: Literal["allow", "deny"] = Field(
        default="deny", description="keys whose team is not listed (only applies once teams are listed)"
    )

    def team(self, name: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.name == name), None)
