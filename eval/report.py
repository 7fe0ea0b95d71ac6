"""Evaluation reports: the Markdown tables of eval/results/<set>.md (``--markdown``) and a self-contained HTML page
(no external assets; the threshold curve is inline SVG; every text escaped)."""

from __future__ import annotations

from html import escape

ROWS = [
    ("retrieval", "doc@1", "doc@1"),
    ("retrieval", "recall@1", "passage recall@1"),
    ("retrieval", "recall@3", "passage recall@3"),
    ("retrieval", "recall@10", "passage recall@10"),
    ("retrieval", "mrr@10", "MRR@10"),
    ("answers", "hit@1", "hit@1"),
    ("answers", "hit@1_unthresholded", "hit@1 (no abstention)"),
    ("answers", "exact_match", "exact match"),
    ("answers", "f1", "token F1"),
    ("answers", "mean_chars", "mean answer chars"),
    ("answers", "median_chars", "median answer chars"),
    ("answers", "chars_vs_tutorial", "answer chars / tutorial's"),
    ("faithfulness", "rate", "faithfulness"),
    ("abstention", "abstain_rate", "unanswerable abstained"),
    ("abstention", "false_abstain_rate", "false abstentions"),
    ("abstention", "auroc", "AUROC of the score"),
    ("latency_ms", "p50", "latency p50 (ms)"),
    ("latency_ms", "p95", "latency p95 (ms)"),
]


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if value > 2 else f"{value:.3f}"
    return str(value)


def markdown(report: dict) -> str:
    """The systems side by side, one metric per row."""
    names = list(report["systems"])
    lines = [
        f"Set `{report['set']}`: {report['questions']} questions, {report['articles']} indexed articles, "
        f"model {report['model']} ({report['runtime']}), index {report['index_version']}.",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for group, key, label in ROWS:
        lines.append(f"| {label} | " + " | ".join(_fmt(report["systems"][n][group].get(key)) for n in names) + " |")
    threshold = report["systems"]["sourcier"]["threshold"]
    lines.append("")
    lines.append(
        f"Sourcier abstains below {threshold:.3f}; the baselines always answer (their abstention rows "
        "show what answering everything costs)."
    )
    if report["targets_missed"]:
        lines.append("Targets missed: " + "; ".join(report["targets_missed"]) + ".")
    else:
        lines.append("All targets of this set are met.")
    floors = report.get("floors_missed", [])
    lines.append("Regression floors (CI): " + ("; ".join(floors) + " — below the floor." if floors else "all held."))
    return "\n".join(lines) + "\n"


def _curve_svg(curve: list[dict[str, float]], threshold: float | None) -> str:
    """Coverage (x) against accuracy of the answered questions (y), one point per threshold."""
    if not curve:
        return ""
    w, h, pad = 520, 320, 44

    def x(v: float) -> float:
        return pad + v * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - v * (h - 2 * pad)

    points = " ".join(f"{x(p['coverage']):.1f},{y(p['accuracy']):.1f}" for p in curve)
    marker = ""
    if threshold is not None:
        nearest = min(curve, key=lambda p: abs(p["threshold"] - threshold))
        marker = (
            f'<circle cx="{x(nearest["coverage"]):.1f}" cy="{y(nearest["accuracy"]):.1f}" r="5" fill="#c0392b">'
            f"<title>seuil {threshold:.3f}</title></circle>"
        )
    ticks = "".join(
        f'<text x="{x(v):.0f}" y="{h - pad + 16}" text-anchor="middle">{v:.1f}</text>'
        f'<text x="{pad - 8}" y="{y(v) + 4:.0f}" text-anchor="end">{v:.1f}</text>'
        for v in (0, 0.25, 0.5, 0.75, 1.0)
    )
    return (
        f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" font-size="11" '
        'aria-label="Couverture et précision selon le seuil">'
        f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#ccc"/>'
        f'<polyline points="{points}" fill="none" stroke="#2450b8" stroke-width="2"/>{marker}{ticks}'
        f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle">couverture (part des questions répondues)</text>'
        f'<text x="12" y="{h / 2}" transform="rotate(-90 12 {h / 2})" text-anchor="middle">'
        "précision des réponses données</text></svg>"
    )


def html(report: dict) -> str:
    names = list(report["systems"])
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f"<td>{_fmt(report['systems'][n][g].get(k))}</td>" for n in names)
        + "</tr>"
        for g, k, label in ROWS
    )
    sourcier = report["systems"]["sourcier"]
    curve = _curve_svg(sourcier["abstention"]["curve"], sourcier["threshold"])
    failures = sourcier["faithfulness"]["failures"]
    failure_html = (
        "<p>Aucun écart : chaque réponse et chaque passage sont le texte exact de l'article à leurs positions.</p>"
        if not failures
        else "<ul>" + "".join(f"<li>{escape(f)}</li>" for f in failures) + "</ul>"
    )
    missed = report["targets_missed"]
    targets = (
        "<p class=ok>Tous les objectifs de ce jeu sont atteints.</p>"
        if not missed
        else "<ul class=bad>" + "".join(f"<li>{escape(m)}</li>" for m in missed) + "</ul>"
    )
    question_rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>".format(
            escape(q["id"]),
            escape(q["style"]),
            escape(q["question"]),
            escape(" | ".join(q["gold"])) or "—",
            "".join(
                f"<td class={'hit' if q[n]['hit'] else 'miss'}>{escape(q[n]['answer'] or '—')}"
                f"<small> {_fmt(q[n]['score'])}</small></td>"
                for n in names
            ),
        )
        for q in report["per_question"]
    )
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Évaluation Sourcier — {escape(report["set"])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2330}} table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #d5d9e0;padding:.3rem .5rem;vertical-align:top;text-align:left}} th{{background:#f0f2f6}}
.hit{{background:#e8f6ec}} .miss{{background:#fbeaea}} small{{color:#666}} .ok{{color:#1d7a3a}} .bad{{color:#b42318}}
</style></head><body>
<h1>Évaluation — jeu « {escape(report["set"])} »</h1>
<p>{report["questions"]} questions, {report["articles"]} articles indexés, modèle {escape(report["model"])}
({escape(report["runtime"])}), index {escape(report["index_version"])}, {escape(report["created_at"])}.</p>
<h2>Objectifs</h2>{targets}
<h2>Sourcier et les références, dans la même exécution</h2>
<table><tr><th>mesure</th>{head}</tr>{rows}</table>
<h2>Seuil d'abstention : couverture et précision</h2>{curve}
<h2>Fidélité</h2>{failure_html}
<h2>Questions</h2>
<table><tr><th>id</th><th>style</th><th>question</th><th>réponse attendue</th>{head}</tr>{question_rows}</table>
</body></html>
"""
