"""The GPU path, checked on a machine with a CUDA GPU; the figures go to docs/results/gpu.md.

    python scripts/gpu_check.py [--out docs/results/gpu.md]

Four checks, about five minutes on one GPU:
1. a training on CUDA inside the locked-down worker (seccomp, Landlock, rlimits), against the
   same training on the CPU;
2. K candidate trainings sharing the GPU at once, against one alone (env steps per second);
3. SB3 and SBX (``--backend sbx``; JAX must see the GPU: a CUDA build of jax) on the GPU
   against the CPU, with the Pendulum SAC preset;
4. a population's K critic updates as one batched (vmapped) step against K separate steps,
   on the GPU and on the CPU (``text2reward bench population``).

``--accelerator cpu --quick`` runs the same checks on the CPU at toy sizes: the test suite
does, so that the script keeps working where no GPU is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _train(root: Path, name: str, env_id: str, task: str, timesteps: int, device: str,
           backend: str | None = None, seed: int = 0) -> dict:
    """One sandboxed training of the task's expert; its result with the wall time."""
    from text2reward.envs.spec import load_spec
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job

    folder = root / name
    folder.mkdir(parents=True)
    program = load_spec(env_id).tasks[task].expert_path
    (folder / "program.py").write_text(program.read_text())
    job = Job("train", env_id, str(folder / "program.py"), str(folder), task=task,
              timesteps=timesteps, seed=seed, device=device, backend=backend,
              timeout_s=600.0)
    start = time.perf_counter()
    result = run_job(job)
    result["wall_s"] = time.perf_counter() - start
    if result.get("status") != "trained":
        raise RuntimeError(f"{name}: {result.get('reason') or result}")
    result["preset"] = json.loads((folder / "preset.json").read_text())
    return result


def _jax_platform() -> str:
    """The platform JAX trains on here ("gpu", "cpu"), or why there is none."""
    import subprocess

    code = "import jax; print(jax.devices()[0].platform)"
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    return proc.stdout.strip() or f"none ({proc.stderr.strip().splitlines()[-1:]})"


def check_worker(root: Path, acc: str, steps: int) -> list[str]:
    gpu = _train(root, "worker-gpu", "HalfCheetah-v5", "run", steps, acc)
    cpu = _train(root, "worker-cpu", "HalfCheetah-v5", "run", steps, "cpu")
    locks = ", ".join(k for k, on in gpu["sandbox"].items() if on)
    return [
        "## 1. A training on the accelerator inside the locked-down worker",
        "",
        f"HalfCheetah-v5 run, the spec's PPO preset, {steps:,} steps, the expert reward.",
        "",
        "| device | sandbox applied | steps/s | wall (s) | score |",
        "|---|---|---|---|---|",
        f"| {gpu['preset']['device']} | {locks} | {gpu['steps_per_s']:.0f} | "
        f"{gpu['wall_s']:.1f} | {gpu['eval']['score']:.3g} |",
        f"| cpu | {', '.join(k for k, on in cpu['sandbox'].items() if on)} | "
        f"{cpu['steps_per_s']:.0f} | {cpu['wall_s']:.1f} | {cpu['eval']['score']:.3g} |",
        "",
    ]


def check_sharing(root: Path, acc: str, k: int, steps: int) -> list[str]:
    alone = _train(root, "share-alone", "HalfCheetah-v5", "run", steps, acc)
    start = time.perf_counter()
    with ThreadPoolExecutor(k) as pool:
        runs = list(pool.map(lambda i: _train(root, f"share-{i}", "HalfCheetah-v5", "run",
                                              steps, acc, seed=i), range(k)))
    wall = time.perf_counter() - start
    together = sum(r["steps"] for r in runs) / wall
    return [
        f"## 2. {k} candidate trainings sharing one {acc} device",
        "",
        f"HalfCheetah-v5 run, PPO, {steps:,} steps each, sandboxed workers started at once.",
        "",
        f"- one alone: {alone['steps'] / alone['wall_s']:.0f} env steps/s (wall, worker start "
        "included)",
        f"- {k} at once: {together:.0f} env steps/s in all, every one trained "
        f"({', '.join(r['status'] for r in runs)})",
        f"- ratio: {together / (alone['steps'] / alone['wall_s']):.2f}",
        "",
    ]


def check_backends(root: Path, acc: str, steps: int) -> list[str]:
    jax_on = _jax_platform()
    rows = []
    for backend in ("sb3", "sbx"):
        for device in dict.fromkeys((acc, "cpu")):
            if backend == "sbx" and device != "cpu" and jax_on != "gpu":
                rows.append(f"| {backend} | {device} | not run: JAX sees {jax_on} | | |")
                continue
            r = _train(root, f"{backend}-{device}", "Pendulum-v1", "swing_up", steps, device,
                       backend)
            rows.append(f"| {backend} | {device} | {r['steps_per_s']:.0f} | {r['wall_s']:.1f} "
                        f"| {r['eval']['score']:.3g} |")
    return [
        "## 3. SB3 and SBX, accelerator against CPU",
        "",
        f"Pendulum-v1 swing_up, the spec's SAC preset, {steps:,} steps, the expert reward, "
        f"in the sandboxed worker. JAX's platform here: {jax_on}.",
        "",
        "| backend | device | steps/s | wall (s) | score |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def check_population(acc: str, k: int, steps: int) -> list[str]:
    from text2reward import bench

    rows = []
    for device in dict.fromkeys(("gpu" if acc != "cpu" else "cpu", "cpu")):
        for hidden in (64, 256):
            out = bench.population(k, steps, device, lambda line: None, hidden)
            rows.append(f"| {device} | {hidden} x {hidden} | {out['separate'] * 1e3:.2f} | "
                        f"{out['batched'] * 1e3:.2f} | {out['ratio']:.2f} |")
    return [
        f"## 4. A population's {k} critic updates: batched against separate",
        "",
        "| device | critic | ms per round, separate | ms, batched | ratio |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "gpu.md"))
    parser.add_argument("--accelerator", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="toy sizes (a test of the script)")
    args = parser.parse_args(argv)
    acc = args.accelerator
    if acc == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: torch sees no CUDA GPU here (run with --accelerator cpu to test the "
                  "script)", file=sys.stderr)
            return 2
        device_name = torch.cuda.get_device_name(0)
    else:
        device_name = "none (--accelerator cpu)"
    sizes = {"worker": 2_048, "share": 1_024, "k": 2, "sac": 1_200, "pop": 3} if args.quick \
        else {"worker": 100_000, "share": 50_000, "k": 4, "sac": 5_000, "pop": 200}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sections = (check_worker(root, acc, sizes["worker"])
                    + check_sharing(root, acc, sizes["k"], sizes["share"])
                    + check_backends(root, acc, sizes["sac"])
                    + check_population(acc, 8, sizes["pop"]))
    head = [
        "# The GPU path",
        "",
        f"Written by `python scripts/gpu_check.py` on {time.strftime('%Y-%m-%d')}: GPU "
        f"{device_name}, {os.cpu_count()} CPU cores ({platform.machine()}), in "
        f"{time.perf_counter() - start:.0f} s.",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text("\n".join(head + sections))
    os.replace(tmp_out, out)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
