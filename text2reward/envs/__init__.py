"""Environment specs: the named, documented view of an env that reward programs and the LLM see."""

from text2reward.envs.spec import EnvSpec, Feature, Task, list_specs, load_spec
from text2reward.envs.state import Episode, StateView

__all__ = ["EnvSpec", "Episode", "Feature", "StateView", "Task", "list_specs", "load_spec"]
