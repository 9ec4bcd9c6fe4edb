"""Command line: thin click commands over the library. The only module that exits; it prints
through ``display`` (the live view) and ``refine.TerminalReviewer`` (the review prompts)."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not hit the network

import click  # noqa: E402
from rich.console import Console  # noqa: E402

from text2reward.config import ALLOCATIONS  # noqa: E402
from text2reward.errors import ProgramError, Text2RewardError  # noqa: E402
from text2reward.training.backends import BACKENDS  # noqa: E402

console = Console(stderr=True, soft_wrap=True)


class CLIError(click.ClickException):
    """A domain error turned into one line and its exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def domain_errors(fn):
    """Turn domain errors into one-line messages with exit 2 (usage) or 1 (work failed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Text2RewardError as exc:
            raise CLIError(str(exc), exc.exit_code) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            where = f" while writing {exc.filename}" if exc.filename else ""
            raise CLIError(f"disk full{where}: free some space; finished work is kept and "
                           "`text2reward resume RUN_DIR` continues a run", 1) from None

    return wrapper


def env_module_option(fn):
    """``--env-module PKG``: import the user's package first, so its ``gym.register`` calls run
    here and in every worker."""
    return click.option("--env-module", "env_module", metavar="PKG",
                        help="Python package to import first; it registers your env ids.")(fn)


def env_kwargs_option(fn):
    """``--env-kwargs KEY:VALUE`` (repeatable): keyword arguments of ``gym.make``, as rl-zoo3's."""
    return click.option("--env-kwargs", "env_kwargs", multiple=True, metavar="KEY:VALUE",
                        help="Env setting (repeatable), a Python literal value: "
                             "--env-kwargs terminate_when_unhealthy:False.")(fn)


def _env_kwargs(items) -> dict:
    from text2reward.envs.settings import parse_env_kwargs

    return parse_env_kwargs(items or ())


def _use_env_module(module: str | None, recorded: str | None = None) -> str | None:
    """Import the user's env package here and in every worker; the folder it was found in
    (installed or on PYTHONPATH, else ``recorded`` by the run, else the current folder)."""
    if not module:
        return None
    from text2reward.envs.modules import load_env_module
    from text2reward.sandbox.job import use_env_module

    folder = load_env_module(module, recorded)
    use_env_module(module, folder)
    return folder


def _use_run_env_module(run_dir: Path) -> None:
    """The env module a run folder's config.json records, imported (report, export)."""
    path = run_dir / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # not a run folder: the command says so itself
    _use_env_module(config.get("env_module"), config.get("env_module_path"))
    _use_run_spec(run_dir)


def spec_option(fn):
    """``--spec FILE``: the user's spec of the env (text2reward spec init writes one)."""
    return click.option("--spec", "spec_file", type=click.Path(), metavar="FILE",
                        help="Your spec.yaml of the env (`text2reward spec init` writes one).")(fn)


RUN_SPEC = "spec"  # the run folder's copy of a user's spec file (and its success.py)


def _use_spec(spec_file: str | None, env_id: str | None):
    """Check and load the user's spec file for this command and its workers; the spec, or
    None without --spec. Its `module` is imported first, as --env-module would be."""
    if not spec_file:
        return None
    from text2reward.envs.userspec import load_spec_file, read_spec_yaml
    from text2reward.sandbox.job import use_spec_path

    module = read_spec_yaml(Path(spec_file)).get("module")
    if isinstance(module, str):
        _use_env_module(module)
    spec = load_spec_file(spec_file, env_id)
    use_spec_path(str(Path(spec_file).resolve()))
    return spec


def _keep_spec(spec_file: str, run_dir: Path) -> None:
    """Copy the user's spec (and the success.py next to it) into the run folder, where every
    later command on the run (resume, refine, report, export) and its workers read it."""
    import shutil

    from text2reward.sandbox.job import use_spec_path

    source = Path(spec_file)
    folder = run_dir / RUN_SPEC
    folder.mkdir(exist_ok=True)
    shutil.copyfile(source, folder / "spec.yaml")
    if (source.parent / "success.py").is_file():
        shutil.copyfile(source.parent / "success.py", folder / "success.py")
    use_spec_path(str((folder / "spec.yaml").resolve()))


def _use_run_spec(run_dir: Path) -> None:
    """The user's spec a run folder keeps, loaded (not checked again against the env)."""
    path = run_dir / RUN_SPEC / "spec.yaml"
    if path.is_file():
        from text2reward.envs.userspec import load_spec_file
        from text2reward.sandbox.job import use_spec_path

        load_spec_file(path, check_env=False)
        use_spec_path(str(path.resolve()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="text2reward")
def main() -> None:
    """text2reward: reward programs for Gymnasium environments, written, verified and evolved."""
    from text2reward.gl import use_offscreen_gl

    use_offscreen_gl()  # MuJoCo renders offscreen with no display; chosen before it is imported


# -- run ----------------------------------------------------------------------------------------
@main.command()
@click.option("--env", "env", help="Gymnasium env id, e.g. CartPole-v1.")
@click.option("--task", help="The behaviour to learn, in words, or a curated task's name.")
@click.option("--model", help="litellm model string (openai/gpt-4o-mini, ...) or 'offline'.")
@click.option("--api-base", help="Base URL of an OpenAI-compatible server (vLLM, Ollama).")
@click.option("--samples", type=int, help="Candidates per round (K). Default 4.")
@click.option("--rounds", type=int, help="Rounds (N). Default 3.")
@click.option("--timesteps", type=int, help="Training steps per candidate. Default: env preset.")
@click.option("--workers", type=int, help="Candidates trained at once. Default 2.")
@click.option("--executor", type=click.Choice(["local", "ray"]),
              help="Where workers run: local processes or Ray tasks (RAY_ADDRESS or local).")
@click.option("--success", type=click.Path(), help="File with score(episode) and THRESHOLD.")
@click.option("--propose-success", "propose_success", is_flag=True, default=None,
              help="Free-form task, LLM designer, no --success: the model writes the success "
                   "criterion first (checked by the critics, stored as proposed_success.py).")
@click.option("--out", type=click.Path(), help="Run folder. Default runs/<time>-<env>-<task>.")
@click.option("--seed", type=int, help="Seed of sampling and training. Default 0.")
@click.option("--reeval-seeds", type=int, envvar="TEXT2REWARD_REEVAL_SEEDS",
              help="Seeds the top candidates are trained with before the winner is named, the "
                   "search's own counting as one; 1 turns it off (env TEXT2REWARD_REEVAL_SEEDS). "
                   "Default 3.")
@click.option("--reeval-top", type=int, help="Candidates re-evaluated over seeds. Default 2.")
@click.option("--device", help="Torch device of the trainings: auto (a GPU when torch sees one), "
                               "cpu or cuda. Default auto.")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="Training library: sb3 (Stable-Baselines3) or sbx (its JAX port, "
                   'pip install "text2reward[sbx]"). Default: the preset\'s (sb3).')
@click.option("--checkpoint-every", "checkpoint_every_s", type=float,
              help="Seconds of training between checkpoints, which `resume` continues a "
                   "killed training from; 0 turns them off. Default 600.")
@click.option("--repairs", type=int, help="Repair attempts per rejected candidate. Default 2.")
@click.option("--early-stop/--no-early-stop", default=None,
              help="Stop trainings clearly behind or already reliably succeeding. Default on.")
@click.option("--stop-on-success/--keep-going", default=None,
              help="End the search once a round's best succeeds every time. Default on.")
@click.option("--allocation", type=click.Choice(ALLOCATIONS),
              help="How a round's trainings share the budget while the search stops on "
                   "success: bandit (one at a time, the budget moved to the candidate still "
                   "heading for the threshold) or rungs (side by side, successive halving at "
                   "fixed rungs). Default bandit.")
@click.option("--shared-experience/--no-shared-experience", "shared_experience", default=None,
              help="Off-policy presets (SAC, TD3, TQC, CrossQ, DQN): each training starts "
                   "from the run's earlier transitions, paid by its own reward. Default on.")
@click.option("--warm-start/--no-warm-start", default=None,
              help="Start trainings from the best earlier policy if it ever succeeded. "
                   "Default off.")
@click.option("--temperature", type=float, help="LLM sampling temperature. Default 1.0.")
@click.option("--max-tokens", type=int,
              help="LLM completion token limit per sample. Default 8192.")
@click.option("--history", type=int,
              help="Rounds of feedback the LLM sees (1 = Eureka's). Default 1.")
@click.option("--budget-usd", type=float, help="Stop cleanly once the LLM has cost this much.")
@click.option("--max-total-tokens", type=int,
              help="Stop cleanly once this many LLM tokens are used.")
@click.option("--replay", type=click.Path(), help="Answer every LLM request from RUN_DIR's record.")
@click.option("--cache/--no-cache", "cache", default=None,
              help="Serve identical temperature-0 requests from the user cache. Default on.")
@click.option("--cache-dir", type=click.Path(),
              help="LLM cache folder. Default ~/.cache/text2reward/llm.")
@click.option("--llm-critique/--no-llm-critique", "llm_critique", default=None,
              help="LLM reviews each program against the task before training (costs requests).")
@click.option("--llm-analysis/--no-llm-analysis", "llm_analysis", default=None,
              help="LLM writes an analysis of the best program's training (costs requests).")
@click.option("--config", "config_file", type=click.Path(), help="YAML/JSON file of these options.")
@click.option("--interactive", is_flag=True,
              help="After every round, review the top candidates and their rollouts: type "
                   "feedback, choose the better rollout, or accept (see `refine`).")
@click.option("--no-render", is_flag=True,
              help="Build the report without rendering the best policy's rollout (software "
                   "rendering takes seconds to minutes; `text2reward report` renders it later).")
@env_kwargs_option
@env_module_option
@spec_option
@domain_errors
def run(config_file, interactive=False, env_module=None, env_kwargs=(), no_render=False,
        spec_file=None, **options) -> None:
    """Design, verify, train and select reward programs for a task."""
    from text2reward.config import RunConfig, load_config_file
    from text2reward.errors import ConfigError
    from text2reward.search.start import prepare
    from text2reward.store import RunStore, default_run_dir

    extra = _env_kwargs(env_kwargs)
    values = load_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in options.items() if v is not None})
    if extra:  # on top of the config file's
        from text2reward.envs.settings import check_kwargs_mapping

        values["env_kwargs"] = {**check_kwargs_mapping(values.get("env_kwargs")), **extra}
    for required in ("env", "task"):
        if required not in values:
            raise ConfigError(f"--{required} is required")
    if env_module:
        values["env_module"] = env_module
    if values.get("env_module"):  # recorded, so later commands find it from anywhere
        values["env_module_path"] = _use_env_module(values["env_module"],
                                                    values.get("env_module_path"))
    user_spec = _use_spec(spec_file, values["env"])
    if user_spec is not None and user_spec.module and not values.get("env_module"):
        values["env_module"] = user_spec.module  # recorded for later commands, as above
        values["env_module_path"] = _use_env_module(user_spec.module)
    config = RunConfig(**values, command=["text2reward", *sys.argv[1:]])
    setup, designer = prepare(config)
    close = setup.spec.close_tasks(config.task) if setup.task is None else []
    if close:  # a free-form task close to a curated one: its ground-truth success is not used
        console.print(f"note: {config.task!r} is not a curated task of {config.env}, so it has "
                      f"no ground-truth success; did you mean --task {close[0]}?")
    out = Path(config.out) if config.out else default_run_dir(config.env, config.task)
    config.out = str(out)
    store = RunStore.create(out, config.to_dict())
    if spec_file:
        _keep_spec(spec_file, out)
    if interactive:
        store.journal({"event": "review_session", "from_round": 0, "rounds": config.rounds,
                       "command": config.command})
    setup = _propose_success(config, setup, designer, store)
    _execute(config, setup, designer, store, None, interactive=interactive, render=not no_render)


@main.command()
@click.argument("run_dir", type=click.Path())
@domain_errors
def resume(run_dir: str) -> None:
    """Finish an interrupted run, reusing every finished proposal and training."""
    from text2reward.search.start import prepare, restore
    from text2reward.store import RunStore

    store = RunStore.open(Path(run_dir))
    try:
        config = _run_config(store.config())
        _use_run_spec(store.root)
        setup, designer = prepare(config)
        restored = restore(store.root)
    except BaseException:
        store.close()
        raise
    resumed = len(restored.checkpointed)
    console.print(f"resuming {run_dir}: {restored.finished} finished candidates kept"
                  + (f", {resumed} unfinished training(s) continue from their checkpoints"
                     if resumed else ""))
    setup = _propose_success(config, setup, designer, store)  # if it was interrupted before
    _execute(config, setup, designer, store, restored)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--rounds", type=click.IntRange(min=1),
              help="More rounds to run with your reviews. Default 1.")
@click.option("--api-base", help="A new base URL of the run's OpenAI-compatible server.")
@click.option("--no-render", is_flag=True, help="Do not render rollouts to GIF.")
@domain_errors
def refine(run_dir: str, rounds: int | None, api_base: str | None, no_render: bool) -> None:
    """Continue a run with you in the loop: after each round, type feedback, choose the better
    of the top two rollouts, or accept. Leave any time (Ctrl-C, end of input): running
    `refine RUN_DIR` again continues where you stopped."""
    from text2reward.refine import pending_session, start_session
    from text2reward.search.start import prepare, restore
    from text2reward.store import RunStore

    store = RunStore.open(_run_folder(run_dir))
    try:
        raw = store.config()
        restored = restore(store.root)
        session = pending_session(restored, raw.get("rounds", 0))
        if session is not None:
            ignored = f" (--rounds {rounds} is ignored until it ends)" if rounds else ""
            console.print(f"continuing the refine session that began with round "
                          f"{session.get('from_round', 0)}{ignored}")
        else:
            raw = start_session(store, restored, raw, rounds or 1,
                                ["text2reward", *sys.argv[1:]])
        if api_base and api_base != raw.get("api_base"):
            store.journal({"event": "config", "key": "api_base", "from": raw.get("api_base"),
                           "to": api_base, "by": "refine"})
            raw = {**raw, "api_base": api_base}
            store.write_json("config.json", raw)
        config = _run_config(raw)
        _use_run_spec(store.root)
        setup, designer = prepare(config)
        restored = restore(store.root)
    except BaseException:
        store.close()
        raise
    console.print(f"refining {run_dir}: {restored.finished} finished candidates kept, "
                  f"{config.rounds} rounds in all")
    _execute(config, setup, designer, store, restored, interactive=True, render=not no_render)


def _propose_success(config, setup, designer, store):
    """--propose-success on a free-form task without a success file: the model's criterion,
    checked, stored and used (text2reward.propose); the Setup unchanged otherwise."""
    if not config.propose_success or config.success:
        return setup
    if setup.task is not None:
        console.print(f"note: --propose-success is ignored: {config.task!r} is a curated task "
                      "with its own ground-truth success")
        return setup
    from text2reward.propose import propose_success

    try:
        return propose_success(config, setup, designer, store, console.print)
    except BaseException:
        store.close()
        raise


def _run_config(raw: dict):
    """The RunConfig of an existing run folder (keys of older versions ignored)."""
    from text2reward.config import RunConfig, field_names

    config = RunConfig(**{k: v for k, v in raw.items() if k in field_names()})
    _use_env_module(config.env_module, config.env_module_path)
    return config


def _execute(config, setup, designer, store, restored, interactive=False, render=True) -> None:
    """Run the loop with the live view; Ctrl-C or SIGTERM stop cleanly and stay resumable.
    ``interactive``: a person reviews each round in the terminal (refine, run --interactive)."""
    from text2reward.display import LiveView, summary_table
    from text2reward.refine import SessionLeft, TerminalReviewer
    from text2reward.search.start import search

    out = store.root
    again = f"text2reward refine {out}" if interactive else f"text2reward resume {out}"

    interrupted = threading.Event()  # the loop checks it too, should the exception be lost
    console.print(f"run folder: {out}")
    try:
        with _stops_on_signal(f"interrupted; finished work is kept: {again}", interrupted), \
                LiveView(console) as view:
            reviewer = TerminalReviewer(console, view.paused, render) if interactive else None
            summary = search(config, setup, designer, store, restored, observe=view,
                             reviewer=reviewer, interrupted=interrupted)
    except SessionLeft as left:
        store.journal({"event": "review_left", "round": left.round})
        console.print(f"you left the review of round {left.round}; everything so far is kept: "
                      f"{again} continues")
        sys.exit(130)
    finally:
        store.close()
    console.print(summary_table(summary))
    console.print(_best_line(summary["best"], setup))
    if summary.get("reevaluation"):
        console.print(_reeval_line(summary["reevaluation"]))
    console.print(f"best reward: {out / 'best_reward.py'}")
    _report_after_run(out, render)
    click.echo(f"run folder: {out}")


def _reeval_line(reeval: dict) -> str:
    """The winner's evidence over seeds, one line."""
    row = next(c for c in reeval["candidates"] if [c["round"], c["index"]] == reeval["winner"])
    rate = "" if row["success_rate"] is None else f", success rate {row['success_rate']:.0%}"
    return (f"over {len(row['runs'])} seeds: mean score {row['mean']:.4g} ± {row['std']:.2g}"
            f"{rate} (re-evaluation of the top {len(reeval['candidates'])}: "
            f"{reeval['env_steps']} env steps, apart from the search's)")


def _best_line(best: dict, setup) -> str:
    """The end-of-run verdict: against the success criterion, or saying plainly there is none."""
    at = f"best: round {best['round']} candidate {best['index']}, score {best['score']:.4g}"
    if setup.threshold is not None:
        verdict = "meets" if best.get("success") else "does not meet"
        return f"{at} ({verdict} the success criterion: {setup.metric})"
    if setup.score_kind == "env-return":
        return (f"{at}: the env's own return, by which candidates were ranked; this task has no "
                "success criterion (pass --success FILE with score(episode) and THRESHOLD)")
    return f"{at}: {setup.metric} (ranked by it; the success file sets no THRESHOLD)"


@contextlib.contextmanager
def _stops_on_signal(message: str,
                     interrupted: threading.Event | None = None) -> Iterator[None]:
    """While the block runs, Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread (and
    set ``interrupted``), so a long command stops its workers; it then prints ``message`` (how
    to continue) and exits 130. A signal the shell ignores stays ignored (``nohup`` and ``&``
    ignore SIGINT)."""
    def stop(signum, frame):
        if interrupted is not None:
            interrupted.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    except KeyboardInterrupt:
        console.print(message)
        sys.exit(130)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report_after_run(out: Path, render: bool = True) -> None:
    """Build report.html at the end of a run; a failure here is a warning, not a failed run."""
    from text2reward.report import build_report

    try:
        console.print(f"report: {build_report(out, render)}")
    except Exception as exc:  # the run's results are on disk already; never lose them to this
        console.print(f"[yellow]warning: report.html was not built: {type(exc).__name__}: {exc}; "
                      f"retry with `text2reward report {out}`[/yellow]")


# -- check --------------------------------------------------------------------------------------
def _read_reward(path: str) -> str:
    from text2reward.critic.static import check_source
    from text2reward.program import read_program

    source = read_program(path)
    syntax = [f for f in check_source(source, path) if f.construct == "syntax"]
    if syntax:
        raise ProgramError(f"{path} is not valid Python: {syntax[0]}")
    return source


@main.command()
@click.option("--env", "env_id", required=True, help="Gymnasium env id.")
@click.option("--task", help="Curated task name (for env settings the task changes).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--explain", is_flag=True,
              help="Also list each sandbox layer and whether it is active.")
@click.argument("file", type=click.Path())
@env_kwargs_option
@env_module_option
@spec_option
@domain_errors
def check(env_id: str, task: str | None, as_json: bool, file: str, explain: bool = False,
          env_module: str | None = None, env_kwargs=(), spec_file: str | None = None) -> None:
    """Run the critics on a reward program: exit 0 accepted, 1 rejected, 2 bad input."""
    extra = _env_kwargs(env_kwargs)
    _use_env_module(env_module)
    _use_spec(spec_file, env_id)
    if explain:
        _explain_sandbox()
    from text2reward.critic.adapt import adapt
    from text2reward.critic.static import check_source
    from text2reward.envs.spec import check_env_id, load_spec
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job

    check_env_id(env_id)
    spec = load_spec(env_id)
    task_obj = _task(spec, task)
    _check_settings(spec, task_obj, extra)
    source, adapted = adapt(_read_reward(file))  # as a run adapts a model's reply
    findings = [str(f) for f in check_source(source, file)]
    verdict = {"accepted": False, "stage": "static", "findings": findings}
    if not findings:
        with tempfile.TemporaryDirectory(prefix="t2r-check-") as scratch:
            program = Path(scratch) / "program.py"
            program.write_text(source)
            result = run_job(Job("check", env_id, str(program), scratch,
                                 task=task_obj.name if task_obj else None, timeout_s=60,
                                 env_kwargs=extra))
        verdict = {"accepted": result.get("status") == "accepted", "stage": "runtime",
                   "findings": result.get("findings")
                   or ([result["reason"]] if "reason" in result else []),
                   "warnings": result.get("warnings", []), "ms_per_call": result.get("ms_per_call")}
        if explain and "sandbox" in result:
            verdict["sandbox"] = result["sandbox"]
            applied = ", ".join(f"{k} {'on' if v else 'OFF'}" for k, v in result["sandbox"].items())
            click.echo(f"sandbox applied in the worker: {applied}", err=True)
    verdict["adapted"] = adapted
    if as_json:
        click.echo(json.dumps(verdict, indent=1))
        sys.exit(0 if verdict["accepted"] else 1)
    if adapted:
        click.echo("adapted before the critics, as a run adapts a model's reply:")
        for change in adapted:
            click.echo(f"  {change}")
    if verdict["accepted"]:
        click.echo(f"accepted: {file} ({verdict['ms_per_call']:.3f} ms per call for 8 envs)")
        for w in verdict["warnings"]:
            click.echo(f"  warning: {w}")
    else:
        click.echo(f"rejected by the {verdict['stage']} critic: {file}")
        for f in verdict["findings"]:
            click.echo(f"  {f}")
    sys.exit(0 if verdict["accepted"] else 1)


def _explain_sandbox() -> None:
    """Print each isolation layer of the worker and whether it is active on this machine."""
    from text2reward.sandbox.lockdown import layer_report

    for name, (active, detail) in layer_report().items():
        state = "active " if active else "MISSING"
        click.echo(f"sandbox {state} {name}: {detail}", err=True)
        if not active:
            click.echo(f"warning: sandbox layer {name} is not available here", err=True)


def _check_settings(spec, task, extra: dict) -> None:
    """--env-kwargs of check and train: the env must accept them (one line otherwise)."""
    from text2reward.envs.settings import check_env_kwargs

    if extra:
        spec.prepare()
        check_env_kwargs(spec.env_id, spec.env_kwargs(task), extra)


def _task(spec, name: str | None):
    from text2reward.errors import UsageError

    if name is None:
        return None
    task = spec.task(name)
    if task is None:
        close = spec.close_tasks(name)
        hint = f": did you mean --task {' or --task '.join(close[:2])}?" if close else ""
        raise UsageError(f"{spec.env_id} has no task {name!r}{hint} "
                         f"(tasks: {', '.join(spec.tasks) or 'none, it has no curated spec'})")
    return task


# -- train --------------------------------------------------------------------------------------
@main.command()
@click.option("--env", "env_id", required=True, help="Gymnasium env id.")
@click.option("--reward", "reward_file", required=True, type=click.Path(), help="Reward program.")
@click.option("--task", help="Curated task whose success is measured (default: env return).")
@click.option("--timesteps", type=int, help="Training steps. Default: env preset.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--success", type=click.Path(), help="File with score(episode) and THRESHOLD.")
@click.option("--out", type=click.Path(),
              help="Folder for the policy and metrics; a training killed part-way continues "
                   "from its checkpoint when run again with the same folder.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="sb3 or sbx (the JAX port, an extra). Default: the preset's.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")
@env_kwargs_option
@env_module_option
@spec_option
@domain_errors
def train(env_id, reward_file, task, timesteps, seed, success, out, device, as_json,
          backend=None, env_module=None, env_kwargs=(), spec_file=None) -> None:
    """Train a policy with a reward program and report the task's success."""
    extra = _env_kwargs(env_kwargs)
    _use_env_module(env_module)
    _use_spec(spec_file, env_id)
    from text2reward.critic.adapt import adapt
    from text2reward.critic.static import check_source
    from text2reward.envs.spec import check_env_id, load_spec
    from text2reward.errors import UsageError, WorkFailed
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job
    from text2reward.store import atomic_write, slugify
    from text2reward.training.presets import time_limit
    from text2reward.training.scoring import load_scorer

    if timesteps is not None and timesteps <= 0:
        raise UsageError(f"--timesteps must be positive, got {timesteps}")
    from text2reward.config import check_backend

    check_backend(backend)
    check_env_id(env_id)
    spec = load_spec(env_id)
    task_obj = _task(spec, task)
    _check_settings(spec, task_obj, extra)
    source, adapted = adapt(_read_reward(reward_file))  # as check and a run adapt it
    if adapted and not as_json:
        click.echo("adapted before the critics, as a run adapts a model's reply:\n"
                   + "\n".join(f"  {change}" for change in adapted), err=True)
    findings = check_source(source, reward_file)
    if findings:
        raise WorkFailed(f"{reward_file} is rejected by the static critic: {findings[0]}")
    scorer = load_scorer(spec, task_obj.name if task_obj else None, success)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(out) if out else Path("runs") / f"train-{stamp}-{slugify(env_id)}"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "program.py", source)
    job = Job("train", env_id, str(folder / "program.py"), str(folder),
              task=task_obj.name if task_obj else None, success_path=success,
              timesteps=timesteps, seed=seed, device=device, env_kwargs=extra, backend=backend,
              timeout_s=time_limit(spec, task_obj, timesteps))
    checked = run_job(dataclasses.replace(job, kind="check", timeout_s=60.0))  # the critic
    if checked.get("status") != "accepted":  # first, so no training is spent on a bad program
        why = "; ".join(checked.get("findings") or []) or checked.get("reason") or "rejected"
        raise WorkFailed(f"{reward_file} is rejected by the runtime critic: {why}")
    with _training_bar(not as_json) as on_event:
        result = run_job(job, on_event)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    if result.get("status") != "trained":
        raise WorkFailed(f"training failed: {result.get('reason') or result.get('findings')}")
    if not as_json:
        if result.get("resumed_from"):
            click.echo(f"resumed from the checkpoint at step {result['resumed_from']:,} "
                       f"in {folder}")
        final = result["eval"]
        solved = "" if scorer.threshold is None else (
            " (success)" if final["score"] >= scorer.threshold
            else " (below the success threshold)")
        click.echo(f"score {final['score']:.4g}{solved} - {scorer.metric}")
        click.echo(f"mean env return {final['env_return']:.4g}, "
                   f"episode length {final['length']:.0f}, "
                   f"{result['steps']} steps at {result['steps_per_s']:.0f} steps/s")
        click.echo(f"policy: {folder / 'policy.zip'}")


class _training_bar:
    """A progress bar fed by worker events (silent when disabled)."""

    def __init__(self, enabled: bool):
        from rich.progress import Progress

        self.progress = Progress(console=console, disable=not enabled)
        self.task = None

    def __enter__(self):
        self.progress.start()
        self.task = self.progress.add_task("training", total=None)

        def on_event(event):
            if event.get("event") == "progress":
                self.progress.update(self.task, completed=event["step"], total=event["total"])

        return on_event

    def __exit__(self, *exc):
        self.progress.stop()


# -- report and export ------------------------------------------------------------------------
@main.command()
@click.argument("run_dir", type=click.Path())
@domain_errors
def report(run_dir: str) -> None:
    """(Re)build RUN_DIR/report.html: tables, learning curves, programs, diffs, rollouts."""
    from text2reward.report import build_report

    folder = _run_folder(run_dir)
    _use_run_env_module(folder)
    click.echo(str(build_report(folder)))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--to", "to", type=click.Path(), help="Output folder. Default RUN_DIR/export.")
@domain_errors
def export(run_dir: str, to: str | None) -> None:
    """Write the best reward as a standalone module with Gymnasium and VecEnv wrappers."""
    from text2reward.export import export_run

    folder = _run_folder(run_dir)
    _use_run_env_module(folder)
    click.echo(str(export_run(folder, Path(to) if to else None)))


def _run_folder(run_dir: str) -> Path:
    from text2reward.errors import UsageError

    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist; "
                         "pass the folder `text2reward run` printed")
    return path


# -- envs ---------------------------------------------------------------------------------------
@main.command()
@click.argument("env_id", required=False)
@click.option("--suite", is_flag=False, flag_value="",
              help="List only this suite's tasks (classic, mujoco, novel, goals, ...); "
                   "without a name, list the suites.")
@env_kwargs_option
@env_module_option
@spec_option
@domain_errors
def envs(env_id: str | None, suite: str | None = None, env_module: str | None = None,
         env_kwargs=(), spec_file: str | None = None) -> None:
    """List curated env specs, or show the abstraction the designer sees for one env
    (with --spec FILE: your spec of it, checked)."""
    from rich.table import Table

    from text2reward.envs.abstraction import describe
    from text2reward.envs.spec import list_specs, load_spec

    _use_env_module(env_module)
    user_spec = _use_spec(spec_file, env_id)
    env_id = env_id or (user_spec.env_id if user_spec else None)
    out = Console()
    if suite == "":  # --suite without a name: the suites
        from text2reward.batch import suites

        for name, keys in suites().items():
            click.echo(f"{name}: {len(keys)} tasks ({', '.join(keys)})")
        return
    if env_id is None:
        table = Table(title=f"suite {suite}" if suite else "curated environments and tasks")
        for col in ("env", "task", "description"):
            table.add_column(col)
        for spec, task in _listed_tasks(list_specs(), suite):
            table.add_row(spec.env_id, task.name, task.description + _missing(spec))
        out.print(table)
        return
    spec = load_spec(env_id)
    extra = _env_kwargs(env_kwargs)
    _check_settings(spec, None, extra)
    click.echo(describe(spec.under(spec.env_kwargs(None, extra)) if extra else spec))
    click.echo("\nTasks (success is measured by code the designer never sees):")
    for task in spec.tasks.values():
        click.echo(f"- {task.name}: {task.description}\n    success: {task.success_metric}")


def _listed_tasks(specs, suite: str | None):
    """(spec, task) pairs of every curated task, or of one suite's tasks in its order."""
    if suite is None:
        return [(spec, task) for spec in specs for task in spec.tasks.values()]
    from text2reward.batch import load_suite
    from text2reward.envs.spec import load_spec

    return [(load_spec(task.env_id), task) for task in load_suite(suite)]


def _missing(spec) -> str:
    """A note when the package an env needs is not installed."""
    from text2reward.errors import UsageError

    try:
        spec.prepare()
    except UsageError as exc:
        return f" [needs a missing package: {exc}]"
    return ""


# -- spec ---------------------------------------------------------------------------------------
@main.group()
def spec() -> None:
    """Your own spec of an env: named features, conventions, training preset and tasks."""


@spec.command("init")
@click.argument("env_id")
@click.option("--out", type=click.Path(), help="File to write. Default envs/<ENV_ID>/spec.yaml "
              "under the current folder.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@env_module_option
@domain_errors
def spec_init(env_id: str, out: str | None, force: bool, env_module: str | None = None) -> None:
    """Write a spec.yaml skeleton of ENV_ID to edit, from the automatic abstraction; check
    it with `text2reward envs ENV_ID --spec FILE`, use it with `run --spec FILE`."""
    from text2reward.envs.spec import check_env_id
    from text2reward.envs.userspec import skeleton
    from text2reward.errors import UsageError
    from text2reward.store import atomic_write

    _use_env_module(env_module)
    check_env_id(env_id)
    path = Path(out) if out else Path("envs") / env_id.replace("/", "__") / "spec.yaml"
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it or --out FILE")
    text = skeleton(env_id, env_module)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    click.echo(str(path))
    console.print(f"edit it, then check it: text2reward envs {env_id} --spec {path}")


# -- batch --------------------------------------------------------------------------------------
@main.command()
@click.option("--suite", required=True, help="Suite name (text2reward envs --suite lists them).")
@click.option("--model", default="offline", show_default=True, help="Designer for every task.")
@click.option("--api-base", help="Base URL of an OpenAI-compatible server.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Trainings per method.")
@click.option("--samples", type=int, default=4, show_default=True)
@click.option("--rounds", type=int, default=3, show_default=True)
@click.option("--timesteps", type=int, help="Training steps per training. Default: presets.")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--out", type=click.Path(), help="Batch folder; an existing one is resumed.")
@domain_errors
def batch(suite, model, api_base, seeds, samples, rounds, timesteps, workers, out) -> None:
    """Sparse, expert and designed rewards for every task of a suite; a results table."""
    from text2reward.batch import Batch, BatchConfig, to_markdown
    from text2reward.store import RunStore

    folder = Path(out) if out else Path("batches") / f"{time.strftime('%Y%m%d-%H%M%S')}-{suite}"
    config = BatchConfig(suite, folder, model, api_base, seeds, samples, rounds, timesteps,
                         workers).validate()
    runner = Batch(config, log=lambda m: console.print(m, markup=False, highlight=False))
    folder.mkdir(parents=True, exist_ok=True)
    holder = RunStore(folder)
    holder.lock()
    try:
        with _stops_on_signal(f"interrupted; finished trainings are kept: rerun with --out "
                              f"{folder}", runner.interrupted):
            rows = runner.run()
    finally:
        holder.close()
    click.echo(to_markdown(rows))
    click.echo(f"results: {folder / 'results.md'} (also .csv, .html)")


# -- bench --------------------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Performance measurements, side by side in one run; the ratio is the last line."""


def _bench_log(message: str) -> None:
    click.echo(message)


def _counts(**values: int | None) -> None:
    """Bench sizes must be positive: one line naming the option otherwise."""
    from text2reward.errors import UsageError

    for name, value in values.items():
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")


@bench.command("overhead")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True)
@click.option("--timesteps", type=int, default=100000, show_default=True,
              help="Steps of each training.")
@click.option("--repeats", type=int, default=32, show_default=True,
              help="Rounds: the trainings advance in turns, one chunk each per round.")
@domain_errors
def bench_overhead(env_id: str, timesteps: int, repeats: int) -> None:
    """Training steps/s with a generated reward vs the env's own reward (same config; the
    trainings advance in turns, so drifts in the machine's speed fall on both alike)."""
    from text2reward import bench as b

    _counts(timesteps=timesteps, repeats=repeats)

    ratio = b.overhead(env_id, timesteps, repeats, _bench_log)
    click.echo(f"ratio generated/own reward: {ratio:.3f}")


@bench.command("population")
@click.option("--k", "k", type=int, default=8, show_default=True, help="Critics in the population.")
@click.option("--steps", type=int, default=200, show_default=True, help="Rounds timed.")
@click.option("--hidden", type=int, default=256, show_default=True,
              help="Units of each critic's two hidden layers.")
@click.option("--device", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True)
@domain_errors
def bench_population(k: int, steps: int, hidden: int, device: str) -> None:
    """A population's K critic updates as K separate jitted steps vs one batched (vmapped)
    step (JAX, as the SBX backend runs them; needs the sbx extra)."""
    from text2reward import bench as b

    _counts(k=k, steps=steps, hidden=hidden)
    out = b.population(k, steps, device, _bench_log, hidden)
    click.echo(f"ratio {k} separate/1 batched: {out['ratio']:.3f}")


@bench.command("sandbox")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True)
@click.option("--timesteps", type=int, default=30000, show_default=True)
@click.option("--repeats", type=int, default=3, show_default=True)
@domain_errors
def bench_sandbox(env_id: str, timesteps: int, repeats: int) -> None:
    """Training steps/s in a locked-down worker vs in-process."""
    from text2reward import bench as b

    _counts(timesteps=timesteps, repeats=repeats)

    ratio = b.sandbox(env_id, timesteps, repeats, _bench_log)
    click.echo(f"ratio sandboxed/in-process: {ratio:.3f}")


@bench.command("parallel")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True)
@click.option("--timesteps", type=int, default=30000, show_default=True)
@click.option("--jobs", type=int, default=4, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@domain_errors
def bench_parallel(env_id: str, timesteps: int, jobs: int, workers: int) -> None:
    """Throughput of N concurrent sandboxed workers vs one."""
    from text2reward import bench as b

    _counts(timesteps=timesteps, jobs=jobs, workers=workers)

    ratio = b.parallel(env_id, timesteps, jobs, workers, _bench_log)
    click.echo(f"ratio {workers} workers/1 worker: {ratio:.3f}")


@bench.command("search")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True)
@click.option("--task", default="balance", show_default=True)
@click.option("--samples", type=int, default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--timesteps", type=int, help="Training budget per candidate. Default: presets.")
@click.option("--allocation", type=click.Choice(ALLOCATIONS), default="bandit",
              show_default=True, help="How the search's trainings share the budget.")
@click.option("--full/--no-full", "full_protocol", default=True, show_default=True,
              help="Also run the full-training protocol (all K candidates to their budget) "
                   "to compare winners; --no-full where that costs hours.")
@click.option("--shared-experience/--no-shared-experience", "shared", default=True,
              show_default=True, help="Off-policy presets: trainings start from the "
                                      "search's earlier transitions.")
@click.option("--backend", type=click.Choice(BACKENDS), help="sb3 or sbx. Default: the preset's.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Keep the searches' run folders here; run again with the same --out to "
                   "continue one that was stopped. Default: a temporary folder.")
@domain_errors
def bench_search(env_id: str, task: str, samples: int, seed: int, workers: int,
                 timesteps: int | None, allocation: str, full_protocol: bool,
                 shared: bool, backend: str | None, out: str | None) -> None:
    """A search's cost in training-equivalents: its env steps until it names a winner that
    meets the threshold, over the winner's own training to the threshold (1.0 is the floor;
    training all K fully is about K); beside it, the full-training protocol's winner."""
    from text2reward import bench as b

    _counts(samples=samples, workers=workers, timesteps=timesteps)

    from text2reward.config import check_backend

    check_backend(backend)
    folder = Path(out) if out else None
    interrupted = threading.Event()
    with _stops_on_signal("interrupted" + (f"; finished trainings are kept: the same command "
                                           f"continues with --out {folder}" if folder else ""),
                          interrupted):
        out = b.search(env_id, task, samples, seed, workers, _bench_log, timesteps,
                       allocation, full_protocol, shared, backend, folder, interrupted)
    if full_protocol:
        mine, gap, score_gap = out["winner_full"], out["success_gap"], out["score_gap"]
        click.echo("the search's winner at the full budget: " + (
            "not trained by the full protocol" if mine is None else
            f"the full protocol's candidate {mine['index']}, score "
            + ("n/a" if mine["score"] is None else format(mine["score"], ".4g"))
            + f", success {'n/a' if mine['success'] is None else format(mine['success'], '.0%')}"))
        click.echo(f"same winner: {'yes' if out['same_winner'] else 'no'}; winner score gap "
                   f"{'n/a' if score_gap is None else format(score_gap, '.1%')}; success gap "
                   f"{'n/a' if gap is None else format(gap, '.0%')}")
        click.echo(f"ratio env steps early/full: {out['steps_ratio']:.3f}")
    if out["training_equivalents"] is None:
        click.echo(f"training-equivalents: n/a ({out['why_none']})")
        return
    walls = out["wall_equivalents"]
    click.echo("training-equivalents in wall time: "
               + ("n/a (the search was continued from an earlier call)" if walls is None
                  else f"{walls:.2f}"))
    click.echo(f"training-equivalents: {out['training_equivalents']:.2f}")


@bench.command("experts")
@click.option("--suite", help="Calibrate every task of a suite (mujoco, novel, goals, ...).")
@click.option("--task", "task_keys", multiple=True, metavar="ENV:TASK",
              help="Calibrate this task (repeatable).")
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--reward", "rewards", type=click.Choice(["expert", "sparse"]), multiple=True,
              help="Rewards to train. Default both.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change the preset: algo=SAC, normalize=true, timesteps=1000000, "
                   "hyperparams.gamma=0.999, hyperparams_from=rl-zoo3:Hopper-v4.")
@click.option("--jobs", type=int, default=2, show_default=True, help="Trainings at once.")
@click.option("--results", type=click.Path(), default="calibration.jsonl", show_default=True,
              help="JSON-lines file the rows are appended to (reused to resume).")
@click.option("--table", "table_out", type=click.Path(), help="Also write the markdown table.")
@domain_errors
def bench_experts(suite, task_keys, seeds, rewards, settings, jobs, results, table_out) -> None:
    """Calibrate curated tasks: expert and sparse rewards at the preset budget, over seeds."""
    from text2reward import calibrate as cal
    from text2reward.batch import load_suite
    from text2reward.errors import UsageError
    from text2reward.store import atomic_write

    _counts(seeds=seeds, jobs=jobs)
    keys = [t.key for t in load_suite(suite)] if suite else []
    keys += list(task_keys)
    if not keys:
        raise UsageError("name the tasks: --suite NAME or --task ENV:TASK")
    for key in keys:
        _task_of(key)
    overrides = cal.parse_settings(settings)
    path = Path(results)
    # trainings run beside the results (a stopped calibration resumes them from checkpoints)
    with _stops_on_signal(f"interrupted; finished trainings are in {path}, and the same "
                          "command continues the others from their checkpoints"):
        rows = cal.calibrate(keys, seeds, rewards or cal.REWARDS, overrides, path, jobs,
                             path.with_name(path.name + ".work"), _bench_log)
    text = cal.table(rows)
    click.echo(text)
    if table_out:
        atomic_write(Path(table_out), text)
    ex = [r for r in rows if r["reward"] == "expert" and r["task"] in keys]
    click.echo(f"experts meeting their threshold: {sum(r['score'] >= r['threshold'] for r in ex)}"
               f" of {len(ex)}")


def _task_of(key: str):
    """A curated task from "EnvId:task"; one clear line when there is no such task."""
    from text2reward.envs.spec import load_spec
    from text2reward.errors import UsageError

    env_id, sep, name = key.rpartition(":")
    if not sep:
        raise UsageError(f"--task {key!r}: write ENV:TASK, e.g. Hopper-v5:hop")
    spec = load_spec(env_id)
    if name not in spec.tasks:
        close = spec.close_tasks(name)
        hint = f": did you mean --task {env_id}:{close[0]}?" if close else ""
        raise UsageError(f"{env_id} has no task {name!r}{hint} (tasks: {', '.join(spec.tasks)})")
    return spec.tasks[name]


if __name__ == "__main__":
    main()
