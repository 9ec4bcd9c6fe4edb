"""``run --propose-success``: the LLM writes the success criterion of a free-form task.

Before round 0, one request asks for a success file (``score(episode)`` and ``THRESHOLD``). It
goes through the critics: the reward programs' static allow-list, then a runtime check in a
locked-down worker on random episodes of the env (a finite float for each). A refused
proposal gets one repair request with the findings. An accepted one is stored as
``proposed_success.py`` in the run folder and becomes the run's ``success`` file (kind
"proposed"); otherwise the run is ranked by the env's return, and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from text2reward.critic.static import check_success_source
from text2reward.sandbox.job import Job
from text2reward.sandbox.local import run_job
from text2reward.store import RunStore
from text2reward.training.scoring import PROPOSED_MARK, load_user_scorer

FILE = "proposed_success.py"
CHECK_TIMEOUT_S = 120.0


def check_proposal(code: str, config: Any, spec_env_id: str, work: Any) -> list[str]:
    """Every finding of the critics on a proposed success file (empty: accepted)."""
    findings = [str(f) for f in check_success_source(code)]
    if findings:
        return findings
    work.mkdir(parents=True, exist_ok=True)
    (work / "success.py").write_text(code)
    result = run_job(Job("success", spec_env_id, str(work / "success.py"), str(work),
                         seed=config.seed, timeout_s=CHECK_TIMEOUT_S,
                         env_kwargs=dict(config.env_kwargs)))
    if result.get("status") == "accepted":
        return []
    return list(result.get("findings") or [f"the check failed: {result.get('reason')}"])


def propose_success(config: Any, setup: Any, designer: Any, store: RunStore,
                    say: Callable[[str], None]) -> Any:
    """Ask, check (and repair once) a success file; the run's Setup with it, or unchanged."""
    from text2reward.llm.success import (
        extract_success,
        success_messages,
        success_repair_messages,
    )

    designer.attach(store.root)  # the requests go to the run's llm/requests.jsonl (resume)
    client = designer.client
    messages = success_messages(setup.spec, config.task)
    code, findings = None, []
    for attempt in range(2):
        exchange = client.complete("success", messages)
        reply = exchange.replies[0] if exchange.replies else ""
        code, error = extract_success(reply)
        findings = [error] if error else check_proposal(
            code, config, setup.spec.env_id, store.root / "proposal" / f"a{attempt}")
        store.journal({"event": "success_proposal", "attempt": attempt, "reply": reply,
                       "accepted": not findings, "findings": findings,
                       "usage": exchange.usage})
        if not findings:
            break
        messages = success_repair_messages(setup.spec, config.task, code or reply,
                                           "\n".join(f"- {f}" for f in findings))
    if findings:
        say("the proposed success criterion was refused after one repair ("
            f"{findings[0]}); this run is ranked by the env's own return, with no threshold")
        return setup
    path = store.root / FILE
    path.write_text(f"{PROPOSED_MARK} by {config.model} for the task {config.task!r}\n{code}")
    config.success = str(path)
    store.write_json("config.json", config.to_dict())
    scorer = load_user_scorer(path)
    say(f"proposed success criterion: {scorer.metric} (threshold {scorer.threshold:g}); "
        f"pass --success FILE to use your own ({path})")
    return dataclasses.replace(setup, score_kind=scorer.kind, metric=scorer.metric,
                               threshold=scorer.threshold)
