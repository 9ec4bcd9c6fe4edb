"""report.html: one offline page that shows what a run found and the evidence for it.

Built from the run folder alone (summary.json, config.json, the candidates' files), so it can
be rebuilt at any time with ``text2reward report RUN_DIR``. Nothing is fetched: plots are
inline SVG, media are embedded as data URIs, and every piece of text that came from an LLM,
a program or the user is escaped.
"""

from __future__ import annotations

import base64
import difflib
import html
import json
import math
import os
from pathlib import Path
from typing import Any

from text2reward.envs.abstraction import describe
from text2reward.envs.spec import load_spec
from text2reward.errors import Text2RewardError, UsageError, WorkFailed
from text2reward.store import atomic_write

MEDIA_TYPES = {".gif": "image/gif", ".png": "image/png", ".mp4": "video/mp4", ".webm": "video/webm"}
ROLLOUT_FRAMES = 100
ROLLOUT_WIDTH = 360


class RenderUnavailable(WorkFailed):
    """A rollout could not be rendered here (no policy, no renderer, no Pillow)."""


# -- the run folder -----------------------------------------------------------------------------
class Run:
    """The parts of a run folder the report reads."""

    def __init__(self, root: Path):
        if not (root / "config.json").is_file():
            raise UsageError(
                f"{root} is not a text2reward run folder (no config.json); pass the "
                "folder that `text2reward run` printed"
            )
        self.root = root
        self.config = _read_json(root / "config.json")
        if not (root / "summary.json").is_file():
            raise UsageError(
                f"{root} has no summary.json yet (no round has finished); "
                f"finish it with `text2reward resume {root}`"
            )
        self.summary = _read_json(root / "summary.json")

    @property
    def rounds(self) -> list[dict[str, Any]]:
        return self.summary.get("rounds") or []

    @property
    def best(self) -> dict[str, Any] | None:
        return self.summary.get("best")

    def folder(self, r: int, i: int) -> Path:
        return self.root / "rounds" / f"r{r:02d}" / f"c{i:02d}"

    def result(self, r: int, i: int) -> dict[str, Any]:
        path = self.folder(r, i) / "result.json"
        return _read_json(path) if path.is_file() else {}

    def text(self, r: int, i: int, name: str) -> str | None:
        path = self.folder(r, i) / name
        return path.read_text(errors="replace") if path.is_file() else None

    def round_best(self, rnd: dict[str, Any]) -> dict[str, Any] | None:
        """The round's best trained candidate, ranked like the loop: success rate, then score."""
        trained = [
            c
            for c in rnd["candidates"]
            if c.get("status") == "trained"
            and c.get("score") is not None
            and not c.get("duplicate_of")
        ]
        return max(trained, key=lambda c: (c.get("success_rate") or 0.0, c["score"]), default=None)

    def media(self) -> list[tuple[str, Path]]:
        """Rollout media in candidate folders, as (label, path), best candidate first."""
        found = []
        for path in sorted((self.root / "rounds").glob("r*/c*/*")):
            if path.suffix.lower() in MEDIA_TYPES and path.is_file():
                r, i = int(path.parent.parent.name[1:]), int(path.parent.name[1:])
                best = (r, i) == _at(self.best)
                label = f"round {r} candidate {i}{' (best)' if best else ''}: {path.name}"
                found.append((not best, label, path))
        return [(label, path) for _, label, path in sorted(found, key=lambda f: f[0])]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is unreadable: {exc}") from None


def _at(record: dict[str, Any] | None) -> tuple[int, int] | None:
    return None if record is None else (record["round"], record["index"])


# -- rollout media ------------------------------------------------------------------------------
def render_rollout(
    run_dir: Path,
    round_index: int | None = None,
    index: int | None = None,
    frames: int = ROLLOUT_FRAMES,
) -> Path:
    """Render a candidate's policy (default: the best) offscreen to ``rollout.gif`` in its folder.

    The policy's weights are read with ``torch.load(weights_only=True)`` into a policy built
    from the env's preset, so nothing from the run folder is unpickled.
    Raises RenderUnavailable when the env, Pillow or the policy cannot render here.
    """
    run = Run(Path(run_dir))
    if round_index is None or index is None:
        if run.best is None:
            raise RenderUnavailable("the run has no trained candidate to render")
        round_index, index = _at(run.best)
    folder = run.folder(round_index, index)
    if not (folder / "policy.zip").is_file():
        raise RenderUnavailable(f"{folder} has no policy.zip to render")
    try:
        from PIL import Image
    except ImportError:
        raise RenderUnavailable("rendering a rollout needs Pillow: pip install pillow") from None
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        images, fps = _rollout_frames(run, folder / "policy.zip", frames)
    except Text2RewardError:
        raise
    except Exception as exc:  # renderers fail in many ways (no display, no GL, missing extras)
        raise RenderUnavailable(
            f"rendering {run.summary['env']} failed here: {type(exc).__name__}: {exc}"
        ) from None
    pictures = [_shrink(Image.fromarray(image)) for image in images]
    out = folder / "rollout.gif"
    pictures[0].save(
        out,
        save_all=True,
        append_images=pictures[1:],
        loop=0,
        duration=max(20, int(1000 / fps)),
        optimize=True,
    )
    return out


def _shrink(image):
    height = round(image.height * ROLLOUT_WIDTH / image.width)
    return image.resize((ROLLOUT_WIDTH, height)).convert("P", palette=1, colors=64)


def _rollout_frames(run: Run, policy_path: Path, frames: int):
    import gymnasium as gym

    spec = load_spec(run.summary["env"])
    key = run.summary.get("task_key")
    task = spec.tasks.get(key.split(":", 1)[1]) if key else None
    env = gym.make(spec.env_id, render_mode="rgb_array", **spec.env_kwargs(task))
    try:
        policy = _load_policy(policy_path, spec.training_preset(task), env)
        obs, _ = env.reset(seed=int(run.config.get("seed") or 0))
        images = [env.render()]
        for _ in range(frames - 1):
            action, _ = policy.predict(obs, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action)
            images.append(env.render())
            if terminated or truncated:
                break
        return images, env.metadata.get("render_fps") or 30
    finally:
        env.close()


def _load_policy(path: Path, preset: dict[str, Any], env):
    import io
    import zipfile

    import stable_baselines3
    import torch

    algo = getattr(stable_baselines3, str(preset.get("algo", "PPO")).upper())
    policy_cls = algo.policy_aliases[preset.get("policy", "MlpPolicy")]
    kwargs = dict(preset.get("hyperparams", {}).get("policy_kwargs") or {})
    policy = policy_cls(env.observation_space, env.action_space, lambda _: 0.0, **kwargs)
    with zipfile.ZipFile(path) as archive:
        state = torch.load(
            io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True
        )
    policy.load_state_dict(state)
    policy.set_training_mode(False)
    return policy


# -- the page -----------------------------------------------------------------------------------
def build_report(run_dir: Path) -> Path:
    """Write ``report.html`` in ``run_dir``, rendering the best policy's rollout if it has none."""
    run = Run(Path(run_dir))
    note = None
    if run.best is None:
        note = "the run has no trained candidate, so there is no rollout to show"
    elif not any(path.parent == run.folder(*_at(run.best)) for _, path in run.media()):
        try:
            render_rollout(run.root)
        except RenderUnavailable as exc:
            note = str(exc)
    out = run.root / "report.html"
    atomic_write(out, _page(run, note))
    return out


def _page(run: Run, media_note: str | None) -> str:
    s = run.summary
    title = f"{s.get('env')}: {s.get('task')}"
    sections = [
        ("overview", "Overview", _overview(run)),
        ("task", "Task and environment", _task_section(run)),
        ("rounds", "Rounds", _rounds_section(run)),
        ("curves", "Learning curves", _curves_section(run)),
        ("program", "Best reward program", _program_section(run)),
        ("diffs", "Changes between rounds", _diffs_section(run)),
        ("rollouts", "Rollouts", _media_section(run, media_note)),
        ("critic", "Critic verdicts and replies", _critic_section(run)),
        ("usage", "Tokens and cost", _usage_section(run)),
        ("sandbox", "Sandbox", _sandbox_section(run)),
    ]
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{name}</h2>{content}</section>' for key, name, content in sections
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>text2reward - {_e(title)}</title><style>{CSS}{_pygments_css()}</style></head>"
        f'<body><header><div class="brand">text2reward report</div><h1>{_e(title)}</h1>'
        f"<nav>{nav}</nav></header><main>{body}</main>"
        f"<footer>Built from {_e(str(run.root))}. Rebuild with "
        f"<code>text2reward report {_e(str(run.root))}</code>.</footer></body></html>\n"
    )


def _overview(run: Run) -> str:
    s, best = run.summary, run.best
    success = s.get("success") or {}
    cards = [
        ("status", s.get("status", "?")),
        ("best score", "none" if best is None else _num(best.get("score"))),
        ("success threshold", _num(success.get("threshold"))),
        ("candidates", str(sum(len(r["candidates"]) for r in run.rounds))),
        ("rounds", f"{len(run.rounds)} of {run.config.get('rounds', '?')}"),
        ("wall time", f"{_num(s.get('wall_time_s'))} s"),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="label">{_e(k)}</div><div class="value">{_e(v)}</div></div>'
        for k, v in cards
    )
    if best is None:
        verdict = '<p class="bad">No candidate was trained.</p>'
    else:
        meets = "meets" if best.get("success") else "does not meet"
        verdict = (
            f"<p>Best: round {best['round']} candidate {best['index']} "
            f"({_e(best.get('origin') or '')}), {_badge(best.get('success'))} it {meets} "
            f"the success criterion.</p>"
        )
    command = (
        (run.root / "command.txt").read_text().strip()
        if (run.root / "command.txt").is_file()
        else ""
    )
    return (
        f'<div class="cards">{html_cards}</div>{verdict}'
        f'<p class="muted">Model <code>{_e(s.get("model"))}</code>. Command:</p>'
        f'<pre class="cmd">{_e(command)}</pre>'
    )


def _task_section(run: Run) -> str:
    s = run.summary
    success = s.get("success") or {}
    kinds = {
        "task": "the curated task's ground-truth score",
        "user": "the user's success file",
        "proposed": "a success function proposed by the designer",
        "env_return": "the env's own return",
    }
    rows = [
        ("env", s.get("env")),
        ("task", s.get("task")),
        ("curated task", s.get("task_key") or "none"),
        (
            "success kind",
            f"{success.get('kind')} ({kinds.get(success.get('kind'), 'see summary.json')})",
        ),
        ("success metric", success.get("metric")),
        ("threshold", _num(success.get("threshold"))),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    try:
        abstraction = f'<pre class="wrap">{_e(describe(load_spec(s["env"])))}</pre>'
    except Text2RewardError as exc:
        abstraction = f'<p class="muted">Unavailable here: {_e(exc)}</p>'
    return (
        f'<table class="kv">{table}</table><h3>What the designer saw</h3>'
        f'<p class="muted">The env abstraction in the prompt; success code is never shown.</p>'
        f"{abstraction}"
    )


def _rounds_section(run: Run) -> str:
    if not run.rounds:
        return '<p class="muted">No round has finished.</p>'
    head = (
        "<tr><th>cand</th><th>origin</th><th>status</th><th>score</th><th>success</th>"
        "<th>env return</th><th>steps</th><th>wall s</th><th>critic</th></tr>"
    )
    parts = []
    for rnd in run.rounds:
        rows = []
        for c in rnd["candidates"]:
            mark = (rnd["round"], c["index"]) == _at(run.best)
            status = c.get("status") or "?"
            if c.get("duplicate_of"):
                status += f" (duplicate of r{c['duplicate_of'][0]} c{c['duplicate_of'][1]})"
            if c.get("reason"):
                status += f": {c['reason']}"
            rows.append(
                f'<tr class="{"best" if mark else ""}"><td>{c["index"]}{" ★" if mark else ""}</td>'
                f"<td>{_e(c.get('origin') or '')}</td><td>{_e(status)}</td>"
                f'<td class="n">{_num(c.get("score"))}</td><td>{_badge(c.get("success"))}</td>'
                f'<td class="n">{_num(c.get("env_return"))}</td>'
                f'<td class="n">{_e(c.get("steps") or "")}</td>'
                f'<td class="n">{_num(c.get("wall_time_s"), 3)}</td><td>{_critic_cell(c)}</td></tr>'
            )
        parts.append(
            f'<h3>Round {rnd["round"]}</h3><table class="grid">{head}{"".join(rows)}</table>'
        )
    return '<p class="muted">★ the run\'s best candidate.</p>' + "".join(parts)


def _critic_cell(c: dict[str, Any]) -> str:
    attempts = c.get("attempts") or []
    if not attempts:
        return '<span class="muted">-</span>'
    last = attempts[-1]
    word = "accepted" if last.get("accepted") else "rejected"
    repairs = f", {len(attempts) - 1} repair(s)" if len(attempts) > 1 else ""
    css = "ok" if last.get("accepted") else "bad"
    return f'<span class="{css}">{word}</span> ({_e(last.get("stage"))}{repairs})'


def _curves_section(run: Run) -> str:
    threshold = (run.summary.get("success") or {}).get("threshold")
    parts = []
    if run.best is not None:
        result = run.result(*_at(run.best))
        parts.append(
            f"<h3>Best candidate (round {run.best['round']} candidate {run.best['index']})</h3>"
            f'<div class="charts">{_score_chart([("score", result)], threshold)}'
            f"{_component_chart(result)}</div>"
        )
    for rnd in run.rounds:
        results = [
            (f"c{c['index']}", run.result(rnd["round"], c["index"]))
            for c in rnd["candidates"]
            if not c.get("duplicate_of")
        ]
        top = run.round_best(rnd)
        comp = _component_chart(run.result(rnd["round"], top["index"])) if top else ""
        label = f" (components of c{top['index']}, the round's best)" if top else ""
        parts.append(
            f"<h3>Round {rnd['round']}{label}</h3>"
            f'<div class="charts">{_score_chart(results, threshold)}{comp}</div>'
        )
    note = (
        '<p class="muted">Each point summarises the training episodes that ended since the '
        "previous point; the dashed line is the success threshold.</p>"
    )
    return note + "".join(parts)


def _score_chart(results: list[tuple[str, dict]], threshold: float | None) -> str:
    series = [
        (
            label,
            [p["step"] for p in r.get("snapshots", []) if p.get("score") is not None],
            [p["score"] for p in r.get("snapshots", []) if p.get("score") is not None],
        )
        for label, r in results
    ]
    return line_chart("task score over training", series, "task score", hline=threshold)


def _component_chart(result: dict[str, Any]) -> str:
    snaps = [p for p in result.get("snapshots", []) if p.get("components") is not None]
    names = sorted({n for p in snaps for n in p["components"]})
    series = [
        (n, [p["step"] for p in snaps], [p["components"].get(n, math.nan) for p in snaps])
        for n in names
    ]
    series.append(
        (
            "total reward",
            [p["step"] for p in snaps],
            [p.get("reward_return", math.nan) for p in snaps],
        )
    )
    return line_chart(
        "reward components (sum per episode)", series, "return", dashed=("total reward",)
    )


def _program_section(run: Run) -> str:
    source = (
        (run.root / "best_reward.py").read_text()
        if (run.root / "best_reward.py").is_file()
        else None
    )
    if source is None:
        return '<p class="muted">No best program yet.</p>'
    params = (run.best or {}).get("params")
    extra = (
        f'<p class="muted">Parameters: <code>{_e(json.dumps(params))}</code></p>' if params else ""
    )
    code_hash = _e((run.best or {}).get("code_hash"))
    return f"<p>best_reward.py (code hash <code>{code_hash}</code>)</p>{extra}{_code(source)}"


def _diffs_section(run: Run) -> str:
    bests = [(rnd["round"], run.round_best(rnd)) for rnd in run.rounds]
    bests = [(r, c) for r, c in bests if c is not None]
    if len(bests) < 2:
        return '<p class="muted">Fewer than two rounds trained a candidate: nothing to compare.</p>'
    parts = []
    for (r0, c0), (r1, c1) in zip(bests, bests[1:], strict=False):
        old = run.text(r0, c0["index"], "program.py") or ""
        new = run.text(r1, c1["index"], "program.py") or ""
        title = (
            f"round {r0} best (c{c0['index']}, score {_num(c0['score'])}) → "
            f"round {r1} best (c{c1['index']}, score {_num(c1['score'])})"
        )
        a, b = f"r{r0:02d}/c{c0['index']:02d}", f"r{r1:02d}/c{c1['index']:02d}"
        parts.append(f"<h3>{_e(title)}</h3>{_diff(old, new, a, b)}")
    return "".join(parts)


def _diff(old: str, new: str, a: str, b: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), a, b, lineterm=""))
    if not lines:
        return '<p class="muted">Identical programs.</p>'
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    body = "".join(f'<span class="{kinds.get(line[:1], "")}">{_e(line)}</span>' for line in lines)
    return f'<pre class="diff">{body}</pre>'


def _media_section(run: Run, note: str | None) -> str:
    parts = []
    for label, path in run.media():
        data = base64.b64encode(path.read_bytes()).decode()
        kind = MEDIA_TYPES[path.suffix.lower()]
        tag = (
            f'<video controls loop muted src="data:{kind};base64,{data}"></video>'
            if kind.startswith("video")
            else f'<img alt="{_e(label)}" src="data:{kind};base64,{data}">'
        )
        parts.append(f"<figure>{tag}<figcaption>{_e(label)}</figcaption></figure>")
    if note:
        parts.append(f'<p class="muted">No rollout media: {_e(note)}.</p>')
    return (
        f'<div class="media">{"".join(parts)}</div>'
        if parts
        else '<p class="muted">No rollout media.</p>'
    )


def _critic_section(run: Run) -> str:
    parts = []
    for rnd in run.rounds:
        for c in rnd["candidates"]:
            r, i = rnd["round"], c["index"]
            items = []
            for k, a in enumerate(c.get("attempts") or []):
                word = "accepted" if a.get("accepted") else "rejected"
                detail = ""
                if a.get("error"):
                    detail += f"<pre>{_e(a['error'])}</pre>"
                if a.get("warnings"):
                    detail += "<ul>" + "".join(f"<li>{_e(w)}</li>" for w in a["warnings"]) + "</ul>"
                speed = f", {a['ms_per_call']:.3f} ms per call" if a.get("ms_per_call") else ""
                code = run.text(r, i, f"attempt{k}.py") if not a.get("accepted") else None
                if code:
                    detail += f"<details><summary>attempt{k}.py</summary>{_code(code)}</details>"
                items.append(
                    f'<li>attempt {k}: <span class="{"ok" if a.get("accepted") else "bad"}">'
                    f"{word}</span> by the {_e(a.get('stage'))} critic{speed}{detail}</li>"
                )
            reply = run.text(r, i, "reply.md")
            if reply:
                items.append(
                    "<li><details><summary>LLM reply</summary>"
                    f"<pre>{_e(reply)}</pre></details></li>"
                )
            opened = " open" if any(not a.get("accepted") for a in c.get("attempts") or []) else ""
            parts.append(
                f"<details{opened}><summary>round {r} candidate {i}: {_critic_cell(c)}</summary>"
                f'<ul class="attempts">{"".join(items)}</ul></details>'
            )
    return "".join(parts) or '<p class="muted">No candidate reached the critics.</p>'


def _usage_section(run: Run) -> str:
    u = run.summary.get("usage") or {}
    rows = [
        ("model", run.summary.get("model")),
        ("requests", u.get("requests", 0)),
        ("prompt tokens", u.get("prompt_tokens", 0)),
        ("completion tokens", u.get("completion_tokens", 0)),
        ("cost (USD)", f"{u.get('cost_usd') or 0:.4f}"),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    note = (
        '<p class="muted">The offline designer makes no LLM requests.</p>'
        if run.summary.get("model") == "offline"
        else ""
    )
    return f'<table class="kv">{table}</table>{note}'


def _sandbox_section(run: Run) -> str:
    layers = run.summary.get("sandbox") or {}
    rows = "".join(
        f"<tr><th>{_e(name.replace('_', ' '))}</th>"
        f"<td>{_badge(on, 'applied', 'not applied here')}</td></tr>"
        for name, on in layers.items()
    )
    return (
        '<p class="muted">Isolation layers around the workers that ran candidate code.</p>'
        f'<table class="kv">{rows}</table>'
    )


# -- charts: inline SVG, no plotting library, nothing fetched --------------------------------------
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#4d2d00")
Series = tuple[str, list[float], list[float]]


def line_chart(
    title: str,
    series: list[Series],
    y_label: str,
    hline: float | None = None,
    dashed: tuple[str, ...] = (),
    width: int = 560,
    height: int = 300,
) -> str:
    """A line chart as an inline <svg> in a <figure>, with an HTML legend below it."""
    clean = []
    for name, xs, ys in series:
        points = [(x, y) for x, y in zip(xs, ys, strict=True) if _finite(y)]
        if points:
            clean.append((name, [x for x, _ in points], [y for _, y in points]))
    if not clean:
        return f'<figure class="chart"><figcaption>{_e(title)}: no data</figcaption></figure>'
    all_x = [x for _, xs, _ in clean for x in xs]
    all_y = [y for _, _, ys in clean for y in ys] + ([hline] if _finite(hline) else [])
    left, right, top, bottom = 62, 14, 30, 42
    xt, yt = _ticks(min(all_x), max(all_x)), _ticks(min(all_y), max(all_y))
    sx = lambda x: left + (x - xt[0]) / (xt[-1] - xt[0]) * (width - left - right)  # noqa: E731
    sy = lambda y: height - bottom - (y - yt[0]) / (yt[-1] - yt[0]) * (height - top - bottom)  # noqa: E731
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img">',
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="18" font-size="13" font-weight="600" fill="#1f2328">'
        f"{_e(title)}</text>",
    ]
    for y in yt:
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#656d76">{_tick_label(y)}</text>'
        )
    for x in xt:
        out.append(
            f'<text x="{sx(x):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
            f'fill="#656d76">{_tick_label(x)}</text>'
        )
    out.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" font-size="11" '
        f'text-anchor="middle" fill="#656d76">training steps</text>'
        f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" font-size="11" '
        f'text-anchor="middle" fill="#656d76">{_e(y_label)}</text>'
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" '
        f'fill="none" stroke="#d0d7de"/>'
    )
    if _finite(hline):
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(hline):.1f}" y2="{sy(hline):.1f}" '
            f'stroke="#57606a" stroke-dasharray="6 4"/>'
        )
    legend = []
    for k, (name, xs, ys) in enumerate(clean):
        color = PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if name in dashed else ""
        points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
        )
        out += [
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>'
            for x, y in zip(xs, ys, strict=True)
        ]
        legend.append(f'<span><i style="background:{color}"></i>{_e(name)}</span>')
    if _finite(hline):
        legend.append(
            f'<span><i style="background:#57606a"></i>success threshold ({_num(hline)})</span>'
        )
    out.append("</svg>")
    return (
        f'<figure class="chart">{"".join(out)}<div class="legend">{"".join(legend)}</div></figure>'
    )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values that cover [lo, hi]; the first and last bound the axis."""
    if hi - lo < 1e-12:
        lo, hi = lo - max(abs(lo) * 0.1, 0.5), hi + max(abs(hi) * 0.1, 0.5)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, stop = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return [start + k * step for k in range(round((stop - start) / step) + 1)]


def _tick_label(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.4g}k"
    return f"{value:.4g}" if abs(value) >= 1e-9 else "0"


# -- small helpers ------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _badge(flag: bool | None, yes: str = "yes", no: str = "no") -> str:
    if flag is None:
        return '<span class="badge">n/a</span>'
    return f'<span class="badge {"ok" if flag else "bad"}">{yes if flag else no}</span>'


def _code(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{_e(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(cssclass="hl"))


def _pygments_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return ""
    return HtmlFormatter(style="default").get_style_defs(".hl")


CSS = """
:root{
    --fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;
    --accent:#0969da;
}
*{box-sizing:border-box}
body{
    margin:0;font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);
    background:#fff;
}
header{background:#0d1117;color:#f0f6fc;padding:20px 32px 12px}
header h1{margin:4px 0 10px;font-size:22px;font-weight:600}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#8b949e}
nav a{color:#9ecbff;margin-right:16px;font-size:13px;text-decoration:none}
nav a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:8px 32px 32px}
section{border-bottom:1px solid var(--line);padding:12px 0 20px}
h2{font-size:19px;margin:12px 0 10px}
h3{font-size:15px;margin:18px 0 8px}
.muted{color:var(--muted);font-size:13px}
.ok{color:var(--ok)}
.bad{color:var(--bad)}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0 12px}
.card{
    border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:140px;
    background:var(--bg);
}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600}
table{border-collapse:collapse;font-size:13px}
th,td{padding:5px 10px;text-align:left;vertical-align:top}
table.grid{width:100%}
table.grid th{background:var(--bg);border-bottom:2px solid var(--line)}
table.grid td{border-bottom:1px solid var(--line)}
table.grid tr.best td{background:#fff8c5}
table.kv th{color:var(--muted);font-weight:500;padding-left:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#eaeef2}
.badge.ok{background:#dafbe1;color:var(--ok)}
.badge.bad{background:#ffebe9;color:var(--bad)}
pre,.hl pre{
    background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
    overflow-x:auto;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
    white-space:pre;
}
pre.cmd,pre.wrap{white-space:pre-wrap}
code{
    font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--bg);
    padding:1px 4px;border-radius:4px;
}
pre.diff span{display:block}
pre.diff .add{background:#dafbe1}
pre.diff .del{background:#ffebe9}
pre.diff .hunk{color:var(--accent)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
figure.chart svg{width:100%;height:auto;display:block}
.legend{
    display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);padding:2px 6px;
}
.legend i{
    display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle;
    border-radius:2px;
}
.media{display:flex;flex-wrap:wrap;gap:16px}
.media figure{margin:0}
.media img,.media video{border:1px solid var(--line);border-radius:6px;max-width:100%}
figcaption{font-size:12px;color:var(--muted)}
details{margin:6px 0}
summary{cursor:pointer}
ul.attempts{margin:4px 0 10px}
footer{max-width:1180px;margin:0 auto;padding:12px 32px 32px;color:var(--muted);font-size:12px}
"""
