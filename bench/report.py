"""The summary a person reads (a table on stdout) and the file a program reads (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_json(report: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return path


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _row(cells: list[str], widths: list[int]) -> str:
    first, *rest = cells
    return "  ".join(
        [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
    )


NOT_PROCESSES = ("machine", "stolen", "cores", "seconds")


def cpu_per_command(scenario: dict[str, Any]) -> dict[str, float] | None:
    """CPU milliseconds per command from the first command to the last mail: each service
    (its replicas summed), `postgresql` (the run database's backends), `services and
    postgresql`, and `machine` (everything on it, the broker and this client included)."""
    cpu, commands = scenario.get("cpu_percent"), scenario["figures"]["commands"]
    if not cpu or not commands or cpu.get("seconds") is None:
        return None
    per: dict[str, float] = {}
    for name, percent in cpu.items():
        if name in ("stolen", "cores", "seconds") or percent is None:
            continue
        key = name.split("#", 1)[0]  # `registration#2`: a further replica
        per[key] = per.get(key, 0.0) + percent / 100 * cpu["seconds"] * 1000 / commands
    if any(cpu.get(name, 0) is None for name in cpu if name not in NOT_PROCESSES):
        return per  # a process restarted meanwhile: no total
    per["services and postgresql"] = sum(v for k, v in per.items() if k != "machine")
    return per


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def comparisons(report: dict[str, Any]) -> list[str]:
    """Lines that set scenarios of one run beside each other: a burst with replicas beside
    the burst of one replica of the same size; the open loop's CPU per command beside a
    burst's."""
    scenarios = report["scenarios"]
    single = {
        s["count"]: s for s in scenarios if s["mode"] == "burst" and s.get("replicas", 1) == 1
    }
    lines: list[str] = []
    for s in scenarios:
        one = single.get(s["count"])
        if s["mode"] != "burst" or s.get("replicas", 1) == 1 or one is None:
            continue
        lines.append(f"== {s['name']} beside one replica")
        widths = [44, 12, 12]
        lines.append(_row(["", "1 replica", f"{s['replicas']} replicas"], widths))
        for label, key in (
            ("registration, commands/s", "registration_stage_commands"),
            ("mail, mails/s", "mail_stage_mails"),
        ):
            lines.append(
                _row(
                    [label]
                    + [_n(x["figures"]["throughput_per_s"][key]["overall"], 1) for x in (one, s)],
                    widths,
                )
            )
        costs = [cpu_per_command(x) or {} for x in (one, s)]
        for name in (*_services(s), "postgresql", "services and postgresql", "machine"):
            lines.append(
                _row([f"CPU ms per command, {name}"] + [_ms(c.get(name)) for c in costs], widths)
            )
        both = [c.get("services and postgresql") for c in costs]
        if both[0] and both[1]:
            lines.append(
                f"   cost per command (services and PostgreSQL), {s['replicas']} replicas / 1: "
                f"{both[1] / both[0]:.2f}"
            )
        lines.append("")
    bursts = [s for s in single.values() if cpu_per_command(s)]
    for s in scenarios:
        open_cost = cpu_per_command(s) if s["mode"] == "open" else None
        if not open_cost or not bursts:
            continue
        burst = max(bursts, key=lambda x: int(x["count"]))
        burst_cost = cpu_per_command(burst) or {}
        lines.append(
            f"== CPU per command, the whole machine: {_ms(open_cost.get('machine'))} ms in the "
            f"{s['name']}, {_ms(burst_cost.get('machine'))} ms in the {burst['name']} "
            f"(services and PostgreSQL {_ms(open_cost.get('services and postgresql'))} and "
            f"{_ms(burst_cost.get('services and postgresql'))} ms)"
        )
        lines.append("")
    return lines


def _services(scenario: dict[str, Any]) -> list[str]:
    names = scenario.get("cpu_percent") or {}
    found = [name.split("#", 1)[0] for name in names if name not in NOT_PROCESSES]
    return [name for name in dict.fromkeys(found) if name != "postgresql"]


def summary(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"Benchmark {report['started_at']} at {report['revision']}",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"load average {m['load_average']} before, {m.get('load_average_after', '-')} after",
        f"SMTP server: {report['smtp_server']}",
        f"Event loop of the benchmark's clients: {report.get('event_loop', 'asyncio')} "
        "(the services': their KS_<SERVICE>_EVENT_LOOP, uvloop by default)",
        "",
    ]
    widths = [16, 10, 10, 10, 10, 10]
    for s in report["scenarios"]:
        f = s["figures"]
        lat, rates = f["latency_ms"], f["throughput_per_s"]
        lines.append(
            f"== {s['name']}: {f['commands']:,} commands, {f['events_published']:,} events, "
            f"{f['mails_sent']:,}/{f['mails_expected']:,} mails"
            + ("" if s["drained"] else "  (NOT DRAINED before the deadline)")
        )
        lines.append(
            f"   published in {s['published']['publish_seconds']} s"
            + (
                f", at most {s['published']['max_behind_schedule_ms']} ms behind schedule"
                if s["mode"] == "open"
                else ""
            )
            + (
                f", after a warm-up of {s['warm_up_commands']:,} commands not counted"
                if s.get("warm_up_commands")
                else ""
            )
        )
        lines.append(_row(["latency ms", "p50", "p95", "p99", "max", "count"], widths))
        for label, key in (
            ("registration", "registration_stage"),
            ("  of it waiting", "registration_wait"),
            ("planning", "planning"),
            ("mail", "mail_stage"),
            ("end to end", "end_to_end"),
        ):
            if key not in lat:
                continue  # a result from before the stage was measured
            d = lat[key]
            lines.append(
                _row(
                    [
                        label,
                        _n(d["p50"], 1),
                        _n(d["p95"], 1),
                        _n(d["p99"], 1),
                        _n(d["max"], 1),
                        _n(d["count"]),
                    ],
                    widths,
                )
            )
        if s["mode"] == "open" and f.get("slowest"):
            lines.append("   " + _slowest(f["slowest"]))
        lines.append(_row(["throughput /s", "overall", "steady", "seconds", "", "items"], widths))
        for label, key in (
            ("registration", "registration_stage_commands"),
            ("mail (mails)", "mail_stage_mails"),
            ("end to end", "end_to_end_commands"),
        ):
            r = rates[key]
            lines.append(
                _row(
                    [
                        label,
                        _n(r["overall"], 1),
                        _n(r["steady"], 1),
                        _n(r["seconds"], 1),
                        "",
                        _n(r["items"]),
                    ],
                    widths,
                )
            )
        peaks = ", ".join(f"{k} {_n(v, 1)} MB" for k, v in s["peak_rss_mb"].items())
        lines.append(f"   peak RSS: {peaks}")
        cpu = s.get("cpu_percent")
        if cpu:
            used = ", ".join(
                f"{k} {'-' if v is None else _n(v, 0)}"
                for k, v in cpu.items()
                if k not in NOT_PROCESSES
            )
            lines.append(
                f"   CPU from the first command to the last mail, % of one core: {used}; "
                f"the machine {_n(cpu['machine'], 0)} of {100 * (cpu['cores'] or 1)}"
                + (
                    f", of it stolen by the host {_n(cpu['stolen'], 0)}"
                    if cpu.get("stolen")
                    else ""
                )
            )
        if s.get("host_command_work_us"):
            lines.append(
                f"   the host just before: a command's own Python work took "
                f"{_n(s['host_command_work_us'], 1)} µs of CPU (python -m bench.floor's; lower is faster)"
            )
        per = cpu_per_command(s)
        if per:
            lines.append(
                "   CPU per command, ms: "
                + ", ".join(f"{name} {_ms(value)}" for name, value in per.items())
            )
        repeated = f.get("repeated")
        if repeated is not None:
            accepted = s.get("smtp_accepted")
            lines.append(
                "   done twice: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in repeated.items())
                + (
                    ""
                    if accepted is None
                    else f"; the SMTP server accepted {accepted:,} mails for "
                    f"{f['mails_sent']:,} marked sent"
                )
            )
        samples = s["samples"]
        if samples:
            lines.append(
                "   max over the run: lag registration "
                f"{max(x['lag_registration'] for x in samples):,}, lag notification "
                f"{max(x['lag_notification'] for x in samples):,}, registration outbox "
                f"{max(x['registration_outbox'] for x in samples):,}, mails pending "
                f"{max(x['mails_pending'] for x in samples):,}; dead letters "
                f"{samples[-1]['dead_letters']}"
            )
            loads = [x["load1"] for x in samples if "load1" in x]
            if loads:
                lines.append(
                    f"   machine load (1 min) during the run: {min(loads):.1f} to {max(loads):.1f}"
                )
        if s["mode"] == "open":
            q = s["backlog_by_quarter"]
            lines.append(
                "   largest backlog per quarter of the offering window: lag registration "
                f"{q['lag_registration']}, lag notification {q['lag_notification']}, "
                f"mails pending {q['mails_pending']}"
            )
        if "stages" in s:
            st = s["stages"]
            reg, plan, send = (
                st["registration_commands"],
                st["planning_mails"],
                st["sending_mails"],
            )
            lines.append(
                "   one stage at a time (the mail and end-to-end rows above include the wait "
                "while sending was held):"
            )
            for label, r in (
                ("registration alone, commands", reg),
                ("notification planning alone, mails", plan),
                ("mail sending alone, mails", send),
            ):
                lines.append(
                    f"     {label}/s: overall {_n(r['overall'], 1)}, steady {_n(r['steady'], 1)}"
                    f" ({_n(r['items'])} in {_n(r['seconds'], 1)} s)"
                )
        if "bare" in s:
            b, r = s["bare"], s["ratios"]
            worked = b.get("chain_with_work")
            lines.append(
                f"   bare chain batched {_n(b['chain_batched']['per_second'], 1)}/s"
                + (f", with a command's work {_n(worked['per_second'], 1)}/s" if worked else "")
                + ", per message "
                f"{_n(b['chain_per_message']['per_second'], 1)}/s; bare sender "
                f"{_n(b['sender']['per_second'], 1)} mails/s over {b['sender']['connections']} "
                "connection(s)"
                + (
                    f", {_n(b['sender_ceiling']['per_second'], 1)} over "
                    f"{b['sender_ceiling']['connections']}"
                    if b["sender_ceiling"]
                    else ""
                )
            )
            lines.append(
                f"   ratios: registration / bare batched {_pct(r['registration_vs_bare_batched'])}"
                + (
                    f", / bare with a command's work {_pct(r['registration_vs_bare_with_work'])}"
                    if "registration_vs_bare_with_work" in r
                    else ""
                )
                + f", / bare per message {_pct(r['registration_vs_bare_per_message'])}"
                f"; mail / bare sender {_pct(r['mail_vs_bare_sender'])}"
            )
        lines.append("")
    lines += comparisons(report)
    return "\n".join(lines)


def _slowest(slow: list[dict[str, float]]) -> str:
    """Where the slowest 1 % came from: due in how many separate seconds of the run (few means
    stalls, many a spread tail), and which stage was the largest share of each."""
    seconds = Counter(int(c["due_s"]) for c in slow)
    busiest, most = seconds.most_common(1)[0]
    largest = Counter(
        max(("registration", "planning", "mail"), key=lambda k: c.get(f"{k}_ms", 0.0)) for c in slow
    )
    stages = ", ".join(f"{k} {n}" for k, n in largest.most_common())
    return (
        f"slowest 1 % ({len(slow)}): due in {len(seconds)} separate seconds "
        f"({most} in second {busiest}); largest stage: {stages}"
    )
