"""The scenarios of `benchmarks.conversations`: what a caller says, when, and what they must hear back.

One YAML file per scenario in `benchmarks/scenarios/` (its name is the file's), for example:

    about: A greeting, a short pause, then the question.
    knowledge: [bright-smile-dental-faq.txt]    # files in benchmarks/scenarios/knowledge/, uploaded through the API
    agent: {first_message: "Bright Smile Dental, how can I help?"}   # merged into the POST /api/v1/agents payload
    quick: true                                  # part of `--quick` (and of the test in `make test`)
    speed: 1.0                                   # the caller's pace, times each voice's own (0.75: slow, 1.3: fast)
    snr: 15                                      # background noise, dB below the caller's speech (else `--snr`)
    turns:
      - say: ["Hi there.", 0.3, "Are you open on Saturday?"]   # fragments, and the pauses between them (s)
        expect:
          heard: [saturday, [9, nine]]           # each item must be heard; a list gives alternatives
          not_heard: [sunday]
      - say: "Uh-huh."
        while_agent_speaks: 2.0                  # starts once 2 s of the agent's reply under way were heard
        expect: {keeps_talking: true}            # a backchannel: the agent goes on
      - silence: 8                               # says nothing for 8 s
        expect: {heard: [still there]}
    callback: {name: [maria], phone: "555 019 8227", preferred_time: [morning]}   # the record's collected.callback

A turn starts, unless it says otherwise, `gap` seconds after the agent fell quiet. `expect` (all optional):
`heard` / `not_heard` (facts, in words, checked in what the caller heard: the agent's audio, transcribed),
`reply` (`one` reply to the turn, the default; `none`; `optional`; `any` number, the default after a silence),
`ends_call` (the agent ends the call after its reply), `stops_talking` (the agent stops the reply under way: a
barge-in) or `keeps_talking` (it goes on: a backchannel; the turn's own reply is then optional).
"""

from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]  # PyYAML (installed with Pipecat) ships no types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
KNOWLEDGE_DIR = SCENARIOS_DIR / "knowledge"

Replies = Literal["one", "none", "optional", "any"]


class ScenarioError(Exception):
    """A scenario file that cannot be read or says something impossible."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _alternatives(value: Any) -> tuple[str, ...]:
    """A fact as its alternatives: `95` or `[95, ninety-five]` (YAML reads bare numbers as numbers)."""
    items = value if isinstance(value, list | tuple) else [value]
    alternatives = tuple(str(item).strip() for item in items if str(item).strip())
    if not alternatives:
        raise ValueError("a fact needs at least one way to say it")
    return alternatives


class Expect(_Strict):
    heard: tuple[tuple[str, ...], ...] = ()
    not_heard: tuple[tuple[str, ...], ...] = ()
    reply: Replies | None = None
    ends_call: bool = False
    stops_talking: bool = False
    keeps_talking: bool = False

    @field_validator("heard", "not_heard", mode="before")
    @classmethod
    def _facts(cls, value: Any) -> tuple[tuple[str, ...], ...]:
        if not isinstance(value, list):
            raise ValueError("a list of facts")
        return tuple(_alternatives(item) for item in value)

    @model_validator(mode="after")
    def _consistent(self) -> "Expect":
        if self.stops_talking and self.keeps_talking:
            raise ValueError("stops_talking and keeps_talking exclude each other")
        if self.reply == "none" and (self.heard or self.ends_call):
            raise ValueError("a turn without a reply cannot expect to hear anything from it")
        return self


class Turn(_Strict):
    say: tuple[str | float, ...] | None = None
    silence: float | None = Field(default=None, gt=0, le=120)
    while_agent_speaks: float | None = Field(default=None, ge=0, le=30)
    gap: float = Field(default=0.5, ge=0, le=10)
    expect: Expect = Expect()

    @field_validator("say", mode="before")
    @classmethod
    def _fragments(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> "Turn":
        if (self.say is None) == (self.silence is None):
            raise ValueError("a turn either says something (say) or stays silent (silence)")
        if self.say is not None:
            if not any(isinstance(item, str) for item in self.say):
                raise ValueError("say needs words")
            if any(not isinstance(item, str) and not 0 < item <= 10 for item in self.say):
                raise ValueError("pauses are 0-10 s")
        if (self.expect.stops_talking or self.expect.keeps_talking) and self.while_agent_speaks is None:
            raise ValueError("stops_talking / keeps_talking need while_agent_speaks")
        if self.silence is not None and self.while_agent_speaks is not None:
            raise ValueError("a silence cannot start while the agent speaks")
        return self

    @property
    def replies(self) -> Replies:
        """How many replies the turn must get: `expect.reply` or its default."""
        if self.expect.reply is not None:
            return self.expect.reply
        if self.silence is not None:
            return "any"
        return "optional" if self.expect.keeps_talking else "one"

    @property
    def words(self) -> str:
        """What the caller says in this turn, pauses left out ("" for a silence)."""
        return " ".join(item for item in self.say or () if isinstance(item, str))


class CallbackExpectation(_Strict):
    """The callback the agent must have taken down (the call record's `collected.callback`)."""

    name: tuple[str, ...]
    phone: str
    preferred_time: tuple[str, ...] | None = None

    @field_validator("name", "preferred_time", mode="before")
    @classmethod
    def _fact(cls, value: Any) -> tuple[str, ...] | None:
        return None if value is None else _alternatives(value)


class Scenario(_Strict):
    name: str
    about: str
    knowledge: tuple[str, ...] = Field(min_length=1)
    agent: dict[str, Any] = Field(default_factory=dict)
    turns: tuple[Turn, ...] = Field(min_length=1)
    quick: bool = False
    speed: float = Field(default=1.0, ge=0.5, le=2.0)
    snr: float | None = Field(default=None, ge=-10, le=60)
    callback: CallbackExpectation | None = None

    @field_validator("knowledge")
    @classmethod
    def _files_exist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        missing = [name for name in value if not (KNOWLEDGE_DIR / name).is_file()]
        if missing:
            raise ValueError(f"no such knowledge file in {KNOWLEDGE_DIR}: {', '.join(missing)}")
        return value

    @field_validator("agent")
    @classmethod
    def _not_the_harness_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        if {"name", "knowledge_base_ids"} & set(value):
            raise ValueError("the harness names the agent and gives it its knowledge")
        return value


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: a scenario is a mapping")
        return Scenario.model_validate({"name": path.stem, **data})
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ScenarioError(f"{path}: {error}") from error


def load_scenarios(directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """Every scenario in `directory`, by name."""
    return [load_scenario(path) for path in sorted(directory.glob("*.yaml"))]
