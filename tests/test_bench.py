"""`text2reward bench` at toy sizes: each benchmark runs end to end and prints its ratio last.
(The figures themselves are measurements, never asserted.)"""

import math
import re

from test_cli import t2r


def ratio(proc) -> float:
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"ratio [^:]+: (\S+)", last)
    assert match, last
    value = float(match.group(1))
    assert math.isfinite(value) and value > 0
    return value


def test_bench_overhead_and_sandbox_print_their_ratio():
    proc = t2r("bench", "overhead", "--env", "CartPole-v1", "--timesteps", "4096", "--repeats", "2")
    ratio(proc)
    assert "round 1: generated reward" in proc.stdout
    steps = re.search(r"(\d+) steps each: generated reward", proc.stdout)
    assert steps and int(steps.group(1)) >= 4096  # each training ran all its turns
    assert "on the same envs (the reward path's own cost): median of 2 rounds" in proc.stdout
    proc = t2r("bench", "sandbox", "--env", "CartPole-v1", "--timesteps", "2048", "--repeats", "1")
    ratio(proc)


def test_bench_population_times_separate_and_batched_critic_updates():
    proc = t2r("bench", "population", "--k", "3", "--steps", "2", "--hidden", "8")
    ratio(proc)
    assert re.search(r"3 critics \(8 x 8\) on cpu: [\d.]+ ms per round as 3 separate updates, "
                     r"[\d.]+ ms as one batched update", proc.stdout)


def test_bench_parallel_reports_the_machine_ceiling():
    proc = t2r("bench", "parallel", "--timesteps", "1024", "--jobs", "2", "--workers", "2")
    ratio(proc)
    assert re.search(r"this machine: 2 processes of a CPU-bound loop run [\d.]+x one", proc.stdout)
    assert "1 worker(s): 2 trainings" in proc.stdout and "2 worker(s): 2 trainings" in proc.stdout


def test_bench_search_reports_training_equivalents_last():
    proc = t2r("bench", "search", "--env", "CartPole-v1", "--task", "balance", "--samples", "2",
               "--timesteps", "8192")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    early = float(re.search(r"ratio env steps early/full: (\S+)", proc.stdout).group(1))
    assert early <= 1.0  # training less never trains more than the full budgets
    assert "full budget:" in proc.stdout and "training less:" in proc.stdout
    assert "the winner alone:" in proc.stdout
    # the winner's score beside the full protocol's is its own full-budget training's
    mine = re.search(r"the search's winner at the full budget: the full protocol's candidate "
                     r"(\d+), score (\S+), success", proc.stdout)
    assert mine and 0 <= int(mine.group(1)) < 2, proc.stdout
    assert re.search(r"same winner: (yes|no); winner score gap \d", proc.stdout)
    value = re.fullmatch(r"training-equivalents: (\S+)(?: \((.+)\))?", lines[-1])
    assert value, lines[-1]
    if value.group(1) == "n/a":  # a toy budget: the winner may not meet the threshold
        assert "does not meet the threshold" in value.group(2)
    else:
        assert float(value.group(1)) >= 1.0  # no search costs less than its winner alone
        assert lines[-2].startswith("training-equivalents in wall time: ")


def test_bench_search_with_out_reads_back_what_finished_and_continues_the_rest(tmp_path):
    args = ("bench", "search", "--env", "CartPole-v1", "--task", "balance", "--samples", "2",
            "--timesteps", "4096", "--out", str(tmp_path))
    first = t2r(*args)
    assert first.returncode == 0, first.stderr
    steps = re.search(r"full budget: (\d+) env steps", first.stdout).group(1)
    assert {p.name for p in tmp_path.iterdir()} == {"full", "early", "alone"}
    again = t2r(*args)  # everything finished: read back, nothing trained
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    # a full protocol stopped before its end is continued from its run folder
    (tmp_path / "full" / "bench.json").unlink()
    third = t2r(*args)
    assert third.returncode == 0, third.stderr
    assert f"full budget: {steps} env steps, wall time unknown (continued)" in third.stdout


def test_bench_with_an_unknown_env_is_bad_input():
    proc = t2r("bench", "overhead", "--env", "NoSuchEnv-v0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_bench_sizes_below_one_are_bad_input():
    for args, message in ((["overhead", "--repeats", "0"], "--repeats must be at least 1, got 0"),
                          (["parallel", "--jobs", "0"], "--jobs must be at least 1, got 0"),
                          (["search", "--samples", "0"], "--samples must be at least 1, got 0")):
        proc = t2r("bench", *args)
        assert proc.returncode == 2, args
        assert proc.stderr.strip() == f"error: {message}"


def test_benchmarks_train_with_the_envs_own_preset():
    """HalfCheetah run's task preset (rl-zoo3's, one env) is not what the benchmarks compare
    across commits: they use the env's (16 envs), with the task's env settings."""
    from text2reward.bench import _preset
    from text2reward.envs.spec import load_spec

    preset = _preset(load_spec("HalfCheetah-v5"), "run", 100)
    assert preset["n_envs"] == 16 and preset["timesteps"] == 100
    assert "policy_kwargs" not in preset["hyperparams"]
