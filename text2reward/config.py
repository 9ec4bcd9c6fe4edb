"""Typed run configuration. Unknown keys and impossible values are rejected with the fix."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from text2reward.errors import ConfigError

ALLOCATIONS = ("rungs", "bandit")  # how a round's trainings share the budget


@dataclass
class RunConfig:
    """Everything a run depends on; saved as config.json in the run folder."""

    env: str
    """Gymnasium env id, e.g. CartPole-v1."""
    task: str
    """The behaviour to learn, in words (or a curated task's name)."""
    model: str = "offline"
    """A litellm model string (openai/gpt-4o-mini, ollama/llama3, ...) or "offline"."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, Ollama, LM Studio)."""
    samples: int = 4
    """Candidates per round (K)."""
    rounds: int = 3
    """Rounds of design, training and reflection (N)."""
    timesteps: int | None = None
    """Training steps per candidate; None uses the env's preset."""
    workers: int = 2
    """Candidates trained at once, each in its own sandboxed worker process."""
    executor: str = "local"
    """Where workers run: "local" (a process pool on this machine) or "ray" (Ray tasks on the
    cluster at RAY_ADDRESS, else a local one; each task launches the same sandboxed worker)."""
    success: str | None = None
    """A file defining score(episode) -> float and THRESHOLD, for free-form tasks."""
    propose_success: bool = False
    """Free-form tasks with an LLM designer and no ``success`` file: before round 0 the model
    writes one, checked by the critics, stored as proposed_success.py and used as ``success``."""
    out: str | None = None
    """Run folder; default runs/<timestamp>-<env>-<slug>."""
    seed: int = 0
    """Seed of the designer's sampling and of every training."""
    repairs: int = 2
    """Repair attempts for a candidate the critics reject, inside the same round."""
    temperature: float = 1.0
    """Sampling temperature of the LLM."""
    max_tokens: int = 8192  # room for reasoning models; cut-off replies are asked again
    """Completion token limit per sample."""
    llm_timeout_s: float = 120.0
    """Seconds before an LLM request is abandoned and retried."""
    history: int = 1
    """Rounds of feedback the LLM sees: 1 is Eureka's (the best program so far and its
    reflection); H > 1 also shows the best programs of the H-1 rounds before, oldest first."""
    budget_usd: float | None = None
    """Stop cleanly (before the next LLM request or round) once the run has spent this much."""
    max_total_tokens: int | None = None
    """Stop cleanly (before the next LLM request or round) once prompt + completion tokens
    reach this."""
    replay: str | None = None
    """A run folder whose llm/requests.jsonl answers every request: no network at all."""
    cache: bool = True
    """Serve identical temperature-0 requests from the user-level cache instead of paying twice."""
    cache_dir: str | None = None
    """The LLM cache folder; default $XDG_CACHE_HOME/text2reward/llm (~/.cache/...)."""
    llm_critique: bool = False
    """Ask the LLM to review each accepted program against the task before training (costs
    one request per candidate; a revised program is checked by the critics again)."""
    llm_analysis: bool = False
    """Ask the LLM for a written analysis of the best program's training, appended to the
    feedback (costs one request per new best)."""
    train_timeout_s: float | None = None
    """Seconds before a training worker is taken for hung and killed; None: derived from the
    training's budget (training/presets.py ``time_limit``)."""
    checkpoint_every_s: float | None = None
    """Seconds of training between a training's checkpoints, which a resumed run continues
    from (training/checkpoint.py); 0 turns them off; None: the preset's (10 minutes)."""
    device: str = "auto"
    """Torch device for training: auto, cpu or cuda."""
    backend: str | None = None
    """The trainings' library: "sb3" (Stable-Baselines3, PyTorch) or "sbx" (its JAX port,
    an extra: faster updates for SAC, TD3, TQC and CrossQ on a CPU); None: the preset's."""
    early_stop: bool = True
    """Stop trainings that fall clearly behind (successive halving) or reliably succeed."""
    stop_on_success: bool = True
    """End the search after the round whose best candidate succeeds in every evaluation."""
    allocation: str = "bandit"
    """How a round's trainings share the budget while the search stops on success: "bandit"
    (one at a time, the budget moved at each pause to the candidate still heading for the
    threshold; search/bandit.py) or "rungs" (side by side, ``workers`` at a time, successive
    halving at fixed rungs). Without stop on success (``--keep-going``, a person reviewing
    rounds, no threshold) the trainings run as with "rungs"."""
    shared_experience: bool = True
    """With a preset that learns from a replay buffer (SAC, TD3, TQC, CrossQ, DQN): each
    training starts from the transitions the run's earlier trainings collected, paid by its
    own reward (training/experience.py). Off: every candidate trains on its own experience."""
    warm_start: bool = False
    """Start each training of a round from the best policy of the earlier rounds when that
    policy succeeded in at least one evaluation episode (same algorithm and network)."""
    reeval_seeds: int = 3
    """Seeds the top candidates are trained with before the winner is named (the search's
    own training counts as one); 1 turns the re-evaluation off."""
    reeval_top: int = 2
    """How many of the best candidates are re-evaluated over seeds."""
    prescreen: bool = True
    """Reject candidates whose returns rank stored failed episodes above successful ones."""
    env_module: str | None = None
    """A package imported first (in this process and every worker) to register the env id."""
    env_module_path: str | None = None
    """The folder ``env_module`` was imported from (recorded by the run), where later commands
    look for it when it is neither installed nor on PYTHONPATH."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of gym.make for this run (``--env-kwargs KEY:VALUE``), on top of the
    spec's and the curated task's: used by training, evaluation, the critics, the pre-screen,
    rollouts and export, and shown to the designer."""
    command: list[str] = field(default_factory=list)
    """The exact command line that started the run."""

    def validate(self) -> RunConfig:
        """Raise ConfigError naming the bad value and the fix."""
        if not self.task or not self.task.strip():
            raise ConfigError("the task is empty: describe the behaviour, "
                              "e.g. --task \"balance the pole\"")
        for name in ("samples", "rounds", "workers", "reeval_seeds", "reeval_top"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.checkpoint_every_s is not None and self.checkpoint_every_s < 0:
            raise ConfigError(f"--checkpoint-every must be 0 (off) or more seconds, "
                              f"got {self.checkpoint_every_s}")
        if self.timesteps is not None and self.timesteps <= 0:
            raise ConfigError(f"--timesteps must be positive, got {self.timesteps}")
        if self.repairs < 0:
            raise ConfigError(f"--repairs must be 0 or more, got {self.repairs}")
        for name in ("llm_timeout_s", "train_timeout_s", "max_tokens"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.history < 1:
            raise ConfigError(f"--history must be at least 1, got {self.history}")
        self._validate_budgets()
        if not 0 <= self.temperature <= 2:
            raise ConfigError(f"--temperature must be between 0 and 2, got {self.temperature}")
        if self.replay is not None and self.model == "offline":
            raise ConfigError("--replay needs the recorded run's --model (the offline designer "
                              "makes no requests to replay)")
        self._validate_choices()
        from text2reward.envs.settings import check_kwargs_mapping

        self.env_kwargs = check_kwargs_mapping(self.env_kwargs)
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}; use auto, cpu or cuda")
        return self

    def _validate_choices(self) -> None:
        """How the search runs: its allocation and its executor."""
        if self.allocation not in ALLOCATIONS:
            raise ConfigError(f"--allocation must be one of {', '.join(ALLOCATIONS)}, "
                              f"got {self.allocation!r}")
        check_backend(self.backend)
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"unknown executor {self.executor!r}; use local or ray")
        if self.executor == "ray":
            from text2reward.sandbox.ray import MISSING, ray_installed

            if not ray_installed():
                raise ConfigError(MISSING)

    def _validate_budgets(self) -> None:
        if self.budget_usd is not None and self.budget_usd <= 0:
            raise ConfigError(f"--budget-usd must be positive, got {self.budget_usd}")
        if self.max_total_tokens is not None and self.max_total_tokens <= 0:
            raise ConfigError(f"--max-total-tokens must be positive, got {self.max_total_tokens}")
        if self.propose_success and self.model == "offline":
            raise ConfigError("--propose-success needs an LLM designer (--model); the offline "
                              "designer writes no success functions: pass --success FILE")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(RunConfig)}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file of RunConfig keys; unknown keys are an error."""
    path = Path(path)
    try:
        raw = (yaml.safe_load(path.read_text()) if path.suffix != ".json"
               else json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {first}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of option: value")
    unknown = sorted(set(raw) - field_names())
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)} in {path}; "
                          f"known: {', '.join(sorted(field_names() - {'command'}))}")
    return raw


def check_backend(backend: str | None) -> None:
    """ConfigError unless ``backend`` is None, "sb3", or "sbx" with SBX installed."""
    import importlib.util

    from text2reward.training.backends import BACKENDS, SBX_HINT

    if backend is None:
        return
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "sbx" and importlib.util.find_spec("sbx") is None:
        raise ConfigError(SBX_HINT)
