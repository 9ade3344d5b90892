"""The cost-quality chart of an eval report (matplotlib, Agg backend): one point per target with its
quality interval, the Pareto front joined, the recommendation marked."""

from __future__ import annotations

from pathlib import Path

from ..economics.plots import pyplot
from .report import RunReport


def pareto_png(report: RunReport, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        front = set(report.pareto)
        picked = report.recommendation.target if report.recommendation else None
        for t in report.targets:
            on_front = t.target in front
            ax.errorbar(
                t.cost_per_1k,
                t.quality,
                yerr=[[t.quality - t.interval.low], [t.interval.high - t.quality]],
                fmt="o",
                color="tab:blue" if on_front else "tab:gray",
                capsize=3,
                markersize=8 if t.target == picked else 5,
            )
            label = f"{t.target} (recommended)" if t.target == picked else t.target
            ax.annotate(label, (t.cost_per_1k, t.quality), textcoords="offset points", xytext=(6, 4), fontsize=8)
        by_name = {t.target: t for t in report.targets}
        line = [by_name[name] for name in report.pareto]
        ax.plot([t.cost_per_1k for t in line], [t.quality for t in line], "--", color="tab:blue", label="Pareto front")
        if any(t.cost_per_1k > 0 for t in report.targets):
            ax.set_xscale("symlog", linthresh=min(t.cost_per_1k for t in report.targets if t.cost_per_1k > 0))
        ax.set_xlabel("cost per 1,000 items (USD)")
        ax.set_ylabel("quality (mean score, 95% interval)")
        ax.set_title(f"{report.run}: quality against cost on {report.set_name} ({report.items} items)")
        ax.margins(x=0.2, y=0.08)  # room for the labels right of the points
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
