"""report.html: one offline page that shows what a run found and the evidence for it.

Built from the run folder alone (summary.json, config.json, the candidates' files), so it can
be rebuilt at any time with ``text2reward report RUN_DIR``. Nothing is fetched: plots are
inline SVG (text2reward.charts), media are embedded as data URIs (rollouts rendered by
text2reward.rollout), and every piece of text that came from an LLM, a program or the user
is escaped.
"""

from __future__ import annotations

import base64
import difflib
import json
from pathlib import Path
from typing import Any

from text2reward.charts import component_chart, line_chart, score_chart
from text2reward.envs.abstraction import describe
from text2reward.envs.spec import load_spec
from text2reward.errors import Text2RewardError
from text2reward.pagekit import CSS, badge, code_block, esc, num, pygments_css
from text2reward.rollout import RenderUnavailable, render_rollout, rollout_frames
from text2reward.runfolder import MEDIA_TYPES, Run, at_of, candidate_label, read_journal
from text2reward.store import atomic_write

__all__ = ["Run", "RenderUnavailable", "build_report", "line_chart", "render_rollout"]


# -- the page -----------------------------------------------------------------------------------
def build_report(run_dir: Path, render: bool = True) -> Path:
    """Write ``report.html`` in ``run_dir``, rendering the best policy's rollout if it has none
    (unless ``render`` is False)."""
    run = Run(Path(run_dir))
    note = None
    if run.best is None:
        note = "the run has no trained candidate, so there is no rollout to show"
    elif not render:
        note = f"the rollout was not rendered (--no-render); `text2reward report {run.root}` " \
               "renders it"
    elif not any(path.parent == run.folder(*at_of(run.best)) for _, path in run.media()):
        try:
            render_rollout(run.root, renderer=rollout_frames)
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
        ("protocol", "Training and evaluation protocol", _protocol_section(run)),
        ("rounds", "Rounds", _rounds_section(run)),
        ("reeval", "Re-evaluation over seeds", _reeval_section(run)),
        ("feedback", "Feedback per round", _feedback_section(run)),
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
        f"<title>text2reward - {esc(title)}</title><style>{CSS}{pygments_css()}</style></head>"
        f'<body><header><div class="brand">text2reward report</div><h1>{esc(title)}</h1>'
        f"<nav>{nav}</nav></header><main>{body}</main>"
        f"<footer>Built from {esc(str(run.root))}. Rebuild with "
        f"<code>text2reward report {esc(str(run.root))}</code>.</footer></body></html>\n"
    )


def _overview(run: Run) -> str:
    s, best = run.summary, run.best
    success = s.get("success") or {}
    cards = [
        ("status", s.get("status", "?")),
        ("best score", "none" if best is None else num(best.get("score"))),
        ("success threshold", num(success.get("threshold"))),
        ("candidates", str(sum(len(r["candidates"]) for r in run.rounds))),
        ("rounds", f"{len(run.rounds)} of {run.config.get('rounds', '?')}"),
        ("wall time", f"{num(s.get('wall_time_s'))} s"),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="label">{esc(k)}</div>'
        f'<div class="value">{esc(v)}</div></div>'
        for k, v in cards
    )
    if best is None:
        verdict = '<p class="bad">No candidate was trained.</p>'
    elif success.get("threshold") is None:  # nothing to meet: say what ranked the candidates
        verdict = (
            f"<p>Best: round {best['round']} candidate {best['index']} "
            f"({esc(best.get('origin') or '')}), ranked by {esc(success.get('metric'))}; this run "
            f"has no success criterion.</p>"
        )
    else:
        meets = "meets" if best.get("success") else "does not meet"
        verdict = (
            f"<p>Best: round {best['round']} candidate {best['index']} "
            f"({esc(best.get('origin') or '')}), {badge(best.get('success'))} it {meets} "
            f"the success criterion.</p>"
        )
    command = (
        (run.root / "command.txt").read_text().strip()
        if (run.root / "command.txt").is_file()
        else ""
    )
    return (
        f'<div class="cards">{html_cards}</div>{verdict}'
        f'<p class="muted">Model <code>{esc(s.get("model"))}</code>. Command:</p>'
        f'<pre class="cmd">{esc(command)}</pre>'
    )


def _task_section(run: Run) -> str:
    s = run.summary
    success = s.get("success") or {}
    kinds = {
        "task": "the curated task's ground-truth score",
        "user": "the user's success file",
        "proposed": "a success function proposed by the designer",
        "env-return": "the env's own return; no success criterion",
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
        ("threshold", num(success.get("threshold"))),
    ]
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    try:
        abstraction = f'<pre class="wrap">{esc(describe(load_spec(s["env"])))}</pre>'
    except Text2RewardError as exc:
        abstraction = f'<p class="muted">Unavailable here: {esc(exc)}</p>'
    return (
        f'<table class="kv">{table}</table><h3>What the designer saw</h3>'
        f'<p class="muted">The env abstraction in the prompt; success code is never shown.</p>'
        f"{abstraction}"
    )


def _protocol_section(run: Run) -> str:
    """What a paper needs to repeat the trainings: algorithm, hyperparameters, budget, envs,
    seed, evaluation, and how trainings were stopped."""
    best = run.best or next((c for r in run.rounds for c in r["candidates"]
                             if c.get("status") == "trained"), None)
    preset_path = run.folder(best.get("round", 0), best["index"]) / "preset.json" if best else None
    if preset_path is None or not preset_path.is_file():
        return '<p class="muted">No training recorded its preset (runs before preset.json).</p>'
    p = json.loads(preset_path.read_text())
    c = run.config
    rows = [
        ("algorithm", f"{p.get('algo', 'PPO')} ({p.get('policy', 'MlpPolicy')}), from "
                      f"{p.get('source', 'spec')}"),
        ("budget per candidate", f"{p.get('timesteps')} env steps, {p.get('n_envs')} envs"),
        ("observation / reward normalisation",
         "VecNormalize " + json.dumps(p["normalize"]) if p.get("normalize") else "none"),
        ("env settings", json.dumps(p.get("env_kwargs") or {})),
        ("seed", str(p.get("seed"))),
        ("evaluation", f"{p.get('eval_episodes', 10)} episodes with the deterministic policy, "
                       "one env each, seeds from seed + 10000; the score is their mean"),
        ("early stopping", "successive halving at 25% and 50% of the budget; solved trainings "
                           "end early" if c.get("early_stop", True) else "off"),
        ("stop on success", "on" if c.get("stop_on_success", True) else "off (--keep-going)"),
        ("allocation", _allocation(run)),
        ("shared experience", _shared_experience(run, p)),
        ("decisions", "at fixed fractions of each training: " + ", ".join(
            f"{f:.0%}" for f in p.get("pause_at") or []) if p.get("pause_at") else
            "as trainings report (asynchronous)"),
        ("device", str(p.get("device", "auto"))),
    ]
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    hp = json.dumps(p.get("hyperparams") or {}, indent=1, sort_keys=True)
    notes = "".join(f"<li>{esc(n)}</li>" for n in p.get("notes") or [])
    return (f'<table class="grid">{table}</table><h3>Hyperparameters</h3><pre>{esc(hp)}</pre>'
            + (f"<ul>{notes}</ul>" if notes else "")
            + '<p class="muted">Scores in the rounds table are from the final evaluation; '
              "learning curves show training episodes (stochastic policy), which can sit above "
              "or below it.</p>")


def _allocation(run: Run) -> str:
    """How the round's trainings shared the budget, with where the bandit moved it."""
    if (run.summary or {}).get("allocation") != "bandit":
        return f"side by side, {run.config.get('workers', 2)} at a time"
    events = read_journal(run.root)
    where = "; ".join(f"r{m['round']} c{m['from']} waited at {m['pause']:.0%}, the budget went "
                      f"to c{m['to']}" for m in events if m.get("event") == "budget_moved")
    return ("budget bandit: one training at a time; a candidate whose recent training scores "
            "no longer head for the threshold (from half its budget) waits, and the budget "
            "moves to the next candidate not tried, else to the best waiting one"
            + (f". Moves: {where}" if where else ". The budget never moved"))


def _shared_experience(run: Run, preset: dict[str, Any]) -> str:
    """Whether trainings learned from other candidates' transitions, and which did."""
    from text2reward.training.experience import learns_from_replay

    if not run.config.get("shared_experience", False):
        return "off: every candidate trained on its own transitions only"
    if not learns_from_replay(preset):
        return f"not used: {preset.get('algo', 'PPO')} learns from no replay buffer"
    given = []
    for rnd in run.rounds:
        for c in rnd["candidates"]:
            r = c.get("round", rnd.get("round", 0))
            shared = run.result(r, c["index"]).get("shared")
            if shared and shared.get("transitions"):
                later = sum(x["transitions"] for x in shared.get("refreshes", []))
                given.append(f"r{r} c{c['index']} learned from {shared['transitions']:,} "
                             f"transitions of {shared['files']} other training(s)"
                             + (f" ({later:,} of them collected while it waited)" if later
                                else "")
                             + f", {shared['updates']:,} gradient steps on them")
            elif shared:
                given.append(f"r{r} c{c['index']} was given none: {shared.get('skipped')}")
    return ("on: each training starts from the transitions of the run's earlier trainings "
            "(earlier rounds', and with the budget bandit this round's paused or ended ones, "
            "and takes those collected while it waited), paid by its own reward"
            + (". " + "; ".join(given) if given else "; no training had any to learn from"))


def _feedback_section(run: Run) -> str:
    """The reflection and findings each round was designed from, as the designer got them."""

    events = [e for e in read_journal(run.root) if e.get("event") == "feedback"]
    if not events:
        return '<p class="muted">Round 0 is designed from the task alone; no feedback yet.</p>'
    parts = []
    for e in events:
        found = "".join(f"<li>{esc(f.get('kind', ''))}: {esc(_finding_text(f))}</li>"
                        for f in e.get("findings") or [] if isinstance(f, dict))
        human = f"<p><b>A person said:</b> {esc(e['human'])}</p>" if e.get("human") else ""
        parts.append(f"<h3>Given to round {e['round']}</h3><pre>{esc(e.get('reflection') or '')}"
                     f"</pre>{f'<ul>{found}</ul>' if found else ''}{human}")
    return "".join(parts)


def _reeval_section(run: Run) -> str:
    """The top candidates' per-seed scores: the evidence the winner is named on."""
    reeval = run.summary.get("reevaluation")
    if not reeval:
        return ('<p class="muted">Not run (--reeval-seeds 1, or no candidate trained): the '
                "winner is the search's best on one seed.</p>")
    head = ("<tr><th>candidate</th><th>scores by seed</th><th>mean</th><th>std</th>"
            "<th>success rate</th></tr>")
    rows = []
    for c in reeval["candidates"]:
        won = [c["round"], c["index"]] == reeval["winner"]
        seeds = ", ".join(f"{x['seed']}: {num(x['score'])}" for x in c["runs"])
        rows.append(f'<tr class="{"best" if won else ""}"><td>r{c["round"]} c{c["index"]}'
                    f'{" ★" if won else ""}</td><td>{esc(seeds)}</td>'
                    f'<td class="n">{num(c["mean"])}</td><td class="n">{num(c["std"])}</td>'
                    f'<td class="n">{num(c["success_rate"])}</td></tr>')
    return (f'<table class="grid">{head}{"".join(rows)}</table><p class="muted">The top '
            f"{reeval['top']} candidates, each trained with {reeval['seeds']} seeds (the "
            f"search's own training is the first); the winner has the best mean success rate, "
            f"then mean score. These trainings cost {reeval['env_steps']} env steps and "
            f"{num(reeval['wall_time_s'])} s of worker time, apart from the search's.</p>")


def _finding_text(finding: dict[str, Any]) -> str:
    return " ".join(str(finding[k]) for k in ("message", "evidence", "advice") if finding.get(k))


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
            mark = (rnd["round"], c["index"]) == at_of(run.best)
            status = c.get("status") or "?"
            if c.get("duplicate_of"):
                status += f" (duplicate of r{c['duplicate_of'][0]} c{c['duplicate_of'][1]})"
            if c.get("reason"):
                status += f": {c['reason']}"
            if c.get("stopped_early"):
                status += f", stopped early: {c['stopped_early']}"
            rows.append(
                f'<tr class="{"best" if mark else ""}"><td>{c["index"]}{" ★" if mark else ""}</td>'
                f"<td>{esc(c.get('origin') or '')}</td><td>{esc(status)}</td>"
                f'<td class="n">{num(c.get("score"))}</td><td>{badge(c.get("success"))}</td>'
                f'<td class="n">{num(c.get("env_return"))}</td>'
                f'<td class="n">{esc(c.get("steps") or "")}</td>'
                f'<td class="n">{num(c.get("wall_time_s"), 3)}</td><td>{_critic_cell(c)}</td></tr>'
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
    return f'<span class="{css}">{word}</span> ({esc(last.get("stage"))}{repairs})'


def _curves_section(run: Run) -> str:
    threshold = (run.summary.get("success") or {}).get("threshold")
    parts = []
    if run.best is not None:
        result = run.result(*at_of(run.best))
        parts.append(
            f"<h3>Best candidate (round {run.best['round']} candidate {run.best['index']})</h3>"
            f'<div class="charts">{score_chart([("score", result)], threshold)}'
            f"{component_chart(result)}</div>"
        )
    for rnd in run.rounds:
        results = [
            (f"c{c['index']}", run.result(rnd["round"], c["index"]))
            for c in rnd["candidates"]
            if not c.get("duplicate_of")
        ]
        top = run.round_best(rnd)
        comp = component_chart(run.result(rnd["round"], top["index"])) if top else ""
        label = f" (components of c{top['index']}, the round's best)" if top else ""
        parts.append(
            f"<h3>Round {rnd['round']}{label}</h3>"
            f'<div class="charts">{score_chart(results, threshold)}{comp}</div>'
        )
    note = (
        '<p class="muted">Each point summarises the training episodes that ended since the '
        "previous point; the dashed line is the success threshold.</p>"
    )
    return note + "".join(parts)


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
        f'<p class="muted">Parameters: <code>{esc(json.dumps(params))}</code></p>' if params else ""
    )
    code_hash = esc((run.best or {}).get("code_hash"))
    return f"<p>best_reward.py (code hash <code>{code_hash}</code>)</p>{extra}{code_block(source)}"


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
            f"round {r0} best (c{c0['index']}, score {num(c0['score'])}) → "
            f"round {r1} best (c{c1['index']}, score {num(c1['score'])})"
        )
        a, b = candidate_label(r0, c0["index"]), candidate_label(r1, c1["index"])
        parts.append(f"<h3>{esc(title)}</h3>{_diff(old, new, a, b)}")
    return "".join(parts)


def _diff(old: str, new: str, a: str, b: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), a, b, lineterm=""))
    if not lines:
        return '<p class="muted">Identical programs.</p>'
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    body = "".join(f'<span class="{kinds.get(line[:1], "")}">{esc(line)}</span>' for line in lines)
    return f'<pre class="diff">{body}</pre>'


def _media_section(run: Run, note: str | None) -> str:
    parts = []
    for label, path in run.media():
        data = base64.b64encode(path.read_bytes()).decode()
        kind = MEDIA_TYPES[path.suffix.lower()]
        tag = (
            f'<video controls loop muted src="data:{kind};base64,{data}"></video>'
            if kind.startswith("video")
            else f'<img alt="{esc(label)}" src="data:{kind};base64,{data}">'
        )
        parts.append(f"<figure>{tag}<figcaption>{esc(label)}</figcaption></figure>")
    if note:
        parts.append(f'<p class="muted">No rollout media: {esc(note)}.</p>')
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
                    detail += f"<pre>{esc(a['error'])}</pre>"
                if a.get("warnings"):
                    warned = "".join(f"<li>{esc(w)}</li>" for w in a["warnings"])
                    detail += f"<ul>{warned}</ul>"
                extraction = a.get("extraction") or {}
                if extraction.get("note"):  # which block of the reply was taken, and why
                    detail += f'<p class="muted">{esc(extraction["note"])}</p>'
                if extraction.get("adapted"):  # harmless habits normalised before the critics
                    detail += "<p class=\"muted\">adapted: " + esc("; ".join(
                        str(x) for x in extraction["adapted"])) + "</p>"
                speed = f", {a['ms_per_call']:.3f} ms per call" if a.get("ms_per_call") else ""
                code = run.text(r, i, f"attempt{k}.py") if not a.get("accepted") else None
                if code:
                    detail += (f"<details><summary>attempt{k}.py</summary>"
                               f"{code_block(code)}</details>")
                items.append(
                    f'<li>attempt {k}: <span class="{"ok" if a.get("accepted") else "bad"}">'
                    f"{word}</span> by the {esc(a.get('stage'))} critic{speed}{detail}</li>"
                )
            reply = run.text(r, i, "reply.md")
            if reply:
                items.append(
                    "<li><details><summary>LLM reply</summary>"
                    f"<pre>{esc(reply)}</pre></details></li>"
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
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    note = (
        '<p class="muted">The offline designer makes no LLM requests.</p>'
        if run.summary.get("model") == "offline"
        else ""
    )
    return f'<table class="kv">{table}</table>{note}'


def _sandbox_section(run: Run) -> str:
    layers = run.summary.get("sandbox") or {}
    rows = "".join(
        f"<tr><th>{esc(name.replace('_', ' '))}</th>"
        f"<td>{badge(on, 'applied', 'not applied here')}</td></tr>"
        for name, on in layers.items()
    )
    return (
        '<p class="muted">Isolation layers around the workers that ran candidate code.</p>'
        f'<table class="kv">{rows}</table>'
    )

