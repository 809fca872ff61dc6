"""Proposal cards: Block Kit (buttons carry only the proposal id and the card's nonce; [Stop]
opens a confirm dialog naming the instance, its type, how long it has been idle, its $/h
and the processes holding GPU memory), text for the CLI, and the JSON contract of
`python -m bot proposals --json`. All read the stored proposal's fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finops_bot.money import format_money
from finops_bot.render.blocks import escape
from finops_bot.store.proposals import StoredProposal

FIX_STOP = "finops_fix_stop"
FIX_SNOOZE = "finops_fix_snooze"
FIX_KEEP = "finops_fix_keep"
FIX_START = "finops_fix_start"
FIX_PLAN = "finops_fix_plan"  # a written plan (Spot where it cannot switch in place): copy it
FIX_ACTIONS = (FIX_STOP, FIX_SNOOZE, FIX_KEEP, FIX_START)
STATE_WORDS = {
    "proposed": "proposed",
    "approved": "approved",
    "executing": "being stopped",
    "planned": "planned (dry run)",
    "succeeded": "stopped",
    "failed": "failed",
    "expired": "expired",
    "snoozed": "snoozed",
    "superseded": "superseded",
    "restarted": "started again",
}


def button_value(p: StoredProposal, nonce: str | None = None) -> str:
    return f"{p.id}:{nonce or p.nonce}"


def parse_value(value: object) -> tuple[str, str] | None:
    """(proposal id, nonce) from a button's value; None when it is not ours."""
    text = str(value or "")
    pid, _, nonce = text.partition(":")
    if not pid.startswith("rp_") or not nonce or len(text) > 100:
        return None
    return pid, nonce


def _usd(value: float | None) -> str:
    return "an unknown amount" if value is None else format_money(value, "USD")


def idle_for(p: StoredProposal, now: datetime | None) -> str:
    if now is None:
        return f"proposed {p.created_at[11:16]} UTC"
    since = datetime.fromisoformat(p.evidence.get("since") or p.created_at)
    minutes = max(int((now - since.replace(tzinfo=since.tzinfo or UTC)) / timedelta(minutes=1)), 0)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def owner_words(p: StoredProposal) -> str:
    if p.owner:
        return p.owner
    label = p.evidence.get("labelled_owner")
    return "none tagged (approvers decide" + (f"; labelled {label})" if label else ")")


def title(p: StoredProposal) -> str:
    market = "Spot" if p.spot else "on-demand" if p.spot is False else "market unknown"
    where = f"{p.cloud} {p.account or '(default account)'} {p.region}"
    return f"{p.resource_id} ({p.instance_type or 'type unknown'}, {market}, {where})"


def evidence_line(p: StoredProposal, now: datetime | None) -> str:
    e = p.evidence
    since = (e.get("since") or "")[11:16]
    util = "" if e.get("util") is None else f", GPU utilisation {e['util']:g}%"
    held = ""
    if e.get("processes"):
        gb = e.get("memory_mb", 0) / 1024
        held = f"; {e['processes']} process(es) hold {gb:,.0f} GB of GPU memory"
    return (
        f"{e.get('state', 'idle')} since {since} UTC ({idle_for(p, now)}){util}; "
        f"{_usd(e.get('idle_dollars'))} idle so far{held}"
    )


def kind_words(p: StoredProposal) -> str:
    return "Spot candidate" if p.action == "spot" else "Idle GPU instance"


def spot_lines(p: StoredProposal) -> list[str]:
    """Why Spot, the saving from the dated quote, the notice, the assumption."""
    e = p.evidence
    saving = p.saving_per_hour or 0.0
    lines = [
        f"busy, and its work can resume: {e.get('resume')}",
        f"Spot saves {_usd(saving)}/h ({_usd(saving * 24)}/day): on-demand "
        f"{_usd(e.get('hourly'))}/h vs Spot {_usd(e.get('spot_hourly'))}/h "
        f"(prices: {e.get('price_basis')}), net of an assumed "
        f"{_usd(e.get('interruption_cost_per_hour'))}/h of interruptions "
        f"({e.get('assumption')}); interruption notice: {e.get('notice')}. Needs an approver.",
    ]
    if e.get("group"):
        lines.append(
            f"Auto Scaling group {e['group']}: new instances launch as Spot; running "
            "ones are replaced only as the group cycles."
        )
    if e.get("plan"):
        lines.append("It cannot switch in place; the plan:\n" + "\n".join(e["plan"]))
    return lines


def saving_line(p: StoredProposal) -> str:
    hourly = p.saving_per_hour
    if hourly is None:
        return "Saving unknown: no price for this instance type ([gpu_prices] sets one)."
    kept = p.keeps_billing_per_hour or 0.0
    return (
        f"Stopping saves {_usd(hourly)}/h ({_usd(hourly * 24)}/day), net of "
        f"{_usd(kept)}/h that keeps billing: {p.evidence.get('keeps_billing', 'nothing')}"
    )


def status_line(p: StoredProposal) -> str:
    by = f" by <@{p.decided_by}>" if p.decided_by else ""
    at = f" at {(p.decided_at or p.updated_at)[11:16]} UTC"
    r = p.result or {}
    if p.state == "planned":
        probe = r.get("probe") or {}
        verdict = (
            ("refused: " + r["refusal"])
            if r.get("refusal")
            else (
                f"permission probe: {'allowed' if probe.get('allowed') else 'DENIED'} "
                f"({probe.get('detail', '')})"
            )
        )
        plan = "; then ".join(r.get("plan") or [])
        return f"*Dry run*{by}{at}: would {plan}. {verdict}. Nothing was executed."
    if p.state == "succeeded" and p.action == "spot":
        return f"*Switched to Spot*{by}{at} ({r.get('detail', '')})."
    if p.state == "succeeded":
        return f"*Stopped*{by}{at} (request {r.get('request_id') or '-'}; {r.get('detail', '')})."
    if p.state == "failed":
        why = r.get("error") or r.get("refusal") or "see `python -m bot audit`"
        return f"*Failed*{by}{at}: {why}"
    if p.state == "snoozed":
        return f"*Snoozed*{by} until {(p.snoozed_until or '')[:16].replace('T', ' ')} UTC."
    if p.state == "superseded":
        return f"*Superseded*: {r.get('reason', 'the instance changed')}. Nothing was done."
    if p.state == "expired":
        return f"*Expired* at {p.expires_at[:16].replace('T', ' ')} UTC: nothing was done."
    if p.state == "restarted":
        return f"*Started again*{at}."
    if p.state in ("approved", "executing"):
        return f"*Approved*{by}{at}: being carried out…"
    return f"Buttons work until {p.expires_at[:16].replace('T', ' ')} UTC."


def _confirm(p: StoredProposal, now: datetime | None) -> dict:
    e = p.evidence
    if p.action == "spot" and e.get("group"):
        text = (
            f"Group {e['group']}: new instances launch as Spot (on-demand above base 0 %); "
            "running ones are replaced as the group cycles. Owner: "
            f"{owner_words(p)}."
        )
        return _dialog(f"Move group {e['group']} to Spot?", text, "Do it")
    if p.action == "spot":
        text = (
            f"{p.resource_id}, {p.instance_type or '?'}: stop it, switch it to Spot "
            f"(interruption notice {e.get('notice')}), start it. Its job must resume "
            f"from its checkpoint. Owner: {owner_words(p)}."
        )
        return _dialog(f"Switch {p.resource_id} to Spot?", text, "Switch it")
    held = (
        f" {e['processes']} process(es) hold GPU memory."
        if e.get("processes")
        else " No process holds GPU memory."
    )
    text = (
        f"{p.resource_id}, {p.instance_type or '?'}, idle {idle_for(p, now)}, "
        f"{_usd(e.get('hourly'))}/h.{held} Owner: {owner_words(p)}."
    )
    return _dialog(f"Stop {p.resource_id}?", text, "Stop it")


def _dialog(title_text: str, text: str, yes: str) -> dict:
    return {
        "title": {"type": "plain_text", "text": title_text[:100]},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }


def _button(action_id: str, label: str, value: str, **more: object) -> dict:
    text = {"type": "plain_text", "text": label}
    return {"type": "button", "action_id": action_id, "value": value, "text": text, **more}


def buttons(p: StoredProposal, now: datetime | None) -> dict | None:
    """The card's buttons for its state: waiting → Stop, Snooze, Keep until; a dry run's
    plan → Snooze, Keep until; stopped → Start again; anything else → none."""
    value, elements = button_value(p), []
    if p.evidence.get("plan_only") and p.state == "proposed":  # no button that pretends
        elements.append(_button(FIX_PLAN, "Copy plan", value))
    elif p.state in ("proposed", "planned"):  # a plan's [Stop] runs once dry-run is off
        verb = "Switch to Spot" if p.action == "spot" else "Stop"
        label = verb if p.state == "proposed" else f"{verb} for real"
        elements.append(_button(FIX_STOP, label, value, style="danger", confirm=_confirm(p, now)))
    if p.state in ("proposed", "planned"):
        elements.append(_button(FIX_SNOOZE, "Snooze 4h", value))
        elements.append(
            {
                "type": "datepicker",
                "action_id": f"{FIX_KEEP}:{value}",
                "placeholder": {"type": "plain_text", "text": "Keep until…"},
            }
        )
    if p.state == "failed" and p.action == "spot" and not p.evidence.get("plan_only"):
        elements.append(_button(FIX_STOP, "Resume the switch", value, confirm=_confirm(p, now)))
    if p.state == "succeeded" and p.action == "stop":
        elements.append(_button(FIX_START, "Start again", value))
    return (
        {"type": "actions", "block_id": f"fix_{p.id}", "elements": elements} if elements else None
    )


def body_lines(p: StoredProposal, now: datetime | None) -> list[str]:
    return spot_lines(p) if p.action == "spot" else [evidence_line(p, now), saving_line(p)]


def proposal_blocks(p: StoredProposal, now: datetime | None) -> list[dict]:
    """One card: what, why, the saving, its state, and (while it waits) the buttons. A
    datepicker sends no value, so its action id carries the proposal id and nonce."""
    head = f"*{kind_words(p)}* `{escape(title(p))}`"
    who = f"project {escape(p.project or 'unknown')} · owner {escape(owner_words(p))}"
    lines = [head, who, *[escape(line) for line in body_lines(p, now)], status_line(p)]
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}}
    ]
    actions = buttons(p, now)
    return blocks + [actions] if actions else blocks


def proposal_text(p: StoredProposal, now: datetime) -> str:
    state = STATE_WORDS.get(p.state, p.state)
    lines = [
        f"{p.id} [{state}] {title(p)}",
        f"  project {p.project or 'unknown'}, owner {owner_words(p)}",
        *[f"  {line}" for line in body_lines(p, now)],
        f"  {status_line(p).replace('*', '')}",
    ]
    return "\n".join(lines)


def proposal_json(p: StoredProposal) -> dict:
    return {
        "id": p.id,
        "resource": {
            "cloud": p.cloud,
            "account": p.account,
            "region": p.region,
            "id": p.resource_id,
            "type": p.instance_type,
            "spot": p.spot,
        },
        "action": p.action,
        "state": p.state,
        "owner": p.owner,
        "expires_at": p.expires_at,
        "saving_per_hour": p.saving_per_hour,
        "currency": p.currency,
    }


def audit_lines(events: list[dict]) -> list[str]:
    """One line an event: when, who, what, how it ended."""
    out = []
    for e in events:
        who = e["actor_user_id"] or "-"
        if e["actor_email"]:
            who += f" ({e['actor_email']})"
        parts = [
            e["at"].replace("T", " ")[:19],
            e["proposal_id"] or e.get("resource") or "-",
            e["event"],
            e["action"] or "",
            e["mode"] or "",
            who,
        ]
        if e["cloud_request_id"]:
            parts.append(f"request {e['cloud_request_id']}")
        if e["error"]:
            parts.append(f"— {e['error']}")
        out.append("  ".join(p for p in parts if p))
    return out
