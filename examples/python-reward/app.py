"""reward-python: an econ-host reward plugin written in Python.

Built with componentize-py against the same WIT world (`econ:plugins/reward`)
as the Rust plugins; see build.sh and docs/plugins.md. It scores an episode
the way `econ-host plugins new reward` does in Rust:

- TS: the team's commitment is correct (1 or 0);
- AL: how close each executor's output is to the commitment, (cos + 1) / 2;
- CC: the executor's own answer is correct (1 or 0);
- total: the alpha-weighted sum with the weights the host passes in.

componentize-py looks for one class per export: `WitWorld` for the world's own
functions (`meta`, `option_specs`) and `Scorer` for the `scorer` interface.
Options from the run's config (`[plugins.options.reward-python]`) arrive in
`score` as (key, value) text pairs; `ts_value` is declared as an example. Raising
`Err(message)` returns the WIT `result`'s error: the host logs it, naming the
plugin, and the run goes on.
"""

import math
from typing import List, Tuple

import wit_world
from wit_world.imports import types
from wit_world.exports import scorer
from componentize_py_types import Err

NAME = "reward-python"
VERSION = "0.1.0"


def cosine(a: List[float], b: List[float]) -> float:
    """Cosine similarity; 0 when either vector is empty or zero, or the lengths differ."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (na * nb)


class WitWorld(wit_world.WitWorld):
    def meta(self) -> types.PluginMeta:
        return types.PluginMeta(
            name=NAME,
            kind=types.PluginKind.REWARD,
            version=VERSION,
            description="TS (commitment right), AL (cosine to the commitment), CC (own answer right), in Python",
            author="econ-host examples",
        )

    def option_specs(self) -> List[types.OptionSpec]:
        return [
            types.OptionSpec(
                name="ts_value",
                kind=types.OptionKind.NUMBER,
                default="1",
                description="TS of an episode whose commitment is right",
            )
        ]


class Scorer(wit_world.exports.Scorer):
    def score(
        self, episode: scorer.Episode, options: List[Tuple[str, str]]
    ) -> List[scorer.AgentReward]:
        if not episode.executors:
            raise Err("no executors in this episode")
        ts_value = float(dict(options).get("ts_value", "1"))
        ts = ts_value if episode.commitment_correct else 0.0
        w = episode.weights
        rewards = []
        for e in episode.executors:
            al = (cosine(e.embedding, episode.commitment_embedding) + 1.0) / 2.0
            cc = 1.0 if e.correct else 0.0
            rewards.append(
                scorer.AgentReward(
                    agent=e.agent,
                    ts=ts,
                    al=al,
                    cc=cc,
                    total=w.al * al + w.ts * ts + w.cc * cc,
                )
            )
        return rewards
