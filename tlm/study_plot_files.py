"""Study plots as PNG and SVG files (matplotlib, Agg): the files ``tlm search plot`` writes.

    from tlm.study_plot_files import write_plot_files
    paths = write_plot_files(study_data, "plots/", formats=("png", "svg"))

Draws what ``runtime.services.study_plots`` computes (one source of numbers for the browser UI
and the files): ``history``, ``intermediate``, ``parallel_coordinates``, ``importance``,
``slice``, ``contour`` and, for several objectives, ``pareto_front``; a file per plot and format,
named ``<plot>.<format>``. A plot without data (an empty study, a single-objective Pareto front is
not drawn) is a figure saying why, never an error.

Figures are built with ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot, no global
backend switch, safe in a server thread). Fonts: the first Chinese-capable font found (Noto Sans
CJK, Source Han Sans, WenQuanYi, ...) so Chinese metric or parameter names render; without one,
DejaVu Sans, with matplotlib's missing-glyph warnings silenced. SVG keeps text as text
(``svg.fonttype = none``), so a browser draws Chinese with its own fonts anyway. Each drawn set
of trial points carries an SVG id ``points-<plot>`` and every title says how many trials it shows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.services import study_plots

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PathCollection
    from matplotlib.colors import Colormap, Normalize
    from matplotlib.figure import Figure

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Sarasa Gothic SC", "SimHei", "Microsoft YaHei", "PingFang SC",
             "AR PL UMing CN", "Droid Sans Fallback")
FORMATS = ("png", "svg")


def chinese_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def _rc() -> dict[str, Any]:
    cjk = chinese_font()
    return {"font.family": "sans-serif", "font.sans-serif": ([cjk] if cjk else []) + ["DejaVu Sans"],
            "axes.unicode_minus": False, "svg.fonttype": "none", "svg.hashsalt": "tlm", "figure.dpi": 100}


def _figure(size: tuple[float, float] = (8.0, 4.8)) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _message(fig: Figure, title: str, text: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="#555555", transform=ax.transAxes)


def _points(ax: Axes, xs: list[Any], ys: list[Any], plot: str, **kw: Any) -> PathCollection:
    sc = ax.scatter(xs, ys, clip_on=False, **kw)
    sc.set_gid(f"points-{plot}")
    return sc


def draw_history(fig: Figure, h: dict[str, Any]) -> None:
    from matplotlib.ticker import MaxNLocator

    objs = h["objectives"]
    for i, o in enumerate(objs):
        ax = fig.add_subplot(len(objs), 1, i + 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ok = [p for p in o["points"] if p["feasible"]]
        bad = [p for p in o["points"] if not p["feasible"]]
        _points(ax, [p["number"] for p in ok] + [p["number"] for p in bad],
                [p["value"] for p in ok] + [p["value"] for p in bad], "history",
                c=["#1f77b4"] * len(ok) + ["#aaaaaa"] * len(bad), s=22, zorder=3)
        if o["best"]:
            ax.step([b["number"] for b in o["best"]], [b["value"] for b in o["best"]], where="post", color="#d62728",
                    label="best so far (feasible)")
            ax.legend(loc="best", fontsize=8)
        ax.set_ylabel(f"{o['name']} ({o['direction']})")
        ax.set_xlabel("trial")
        ax.set_title(f"Optimisation history: {len(o['points'])} trials" + (f", {len(bad)} infeasible" if bad else ""))


def draw_intermediate(fig: Figure, d: dict[str, Any]) -> None:
    from matplotlib.ticker import MaxNLocator

    ax = fig.add_subplot()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    xs, ys = [], []
    for t in d["trials"]:
        style = {"linestyle": "--", "color": "#d62728", "alpha": 0.7} if t["pruned"] else {"alpha": 0.85}
        ax.plot(t["steps"], t["values"], linewidth=1.2, **style)
        xs += t["steps"]
        ys += t["values"]
    _points(ax, xs, ys, "intermediate", s=8, color="#333333", zorder=3)
    pruned = sum(t["pruned"] for t in d["trials"])
    ax.set_title(f"Intermediate values: {len(d['trials'])} trials ({pruned} pruned, dashed)")
    ax.set_xlabel("step")
    ax.set_ylabel("intermediate value")


def _unit(dim: dict[str, Any], v: float | None) -> float | None:
    rng = dim.get("range")
    if v is None or not rng:
        return None
    lo, hi = rng
    if dim.get("log") and lo > 0 and v > 0:
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return 0.5 if hi == lo else (v - lo) / (hi - lo)


def draw_parallel(fig: Figure, d: dict[str, Any]) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    ax = fig.add_subplot()
    dims = d["dimensions"]
    obj = dims[0]
    norm = Normalize(*obj["range"]) if obj["range"][0] != obj["range"][1] else Normalize(obj["range"][0] - 1,
                                                                                          obj["range"][0] + 1)
    cmap = colormaps["viridis" if obj["direction"] == "maximize" else "viridis_r"]
    xs, ys = [], []
    for j, _number in enumerate(d["trials"]):
        line = [(i, u) for i, dim in enumerate(dims) if (u := _unit(dim, dim["values"][j])) is not None]
        ax.plot([p[0] for p in line], [p[1] for p in line], color=cmap(norm(obj["values"][j])), alpha=0.7,
                linestyle="-" if d["feasible"][j] else ":")
        xs.append(0)
        ys.append(_unit(obj, obj["values"][j]))
    _points(ax, xs, ys, "parallel_coordinates", s=10, color="#333333", zorder=3)
    for i, dim in enumerate(dims):
        ax.axvline(i, color="#888888", linewidth=0.8)
        lo, hi = dim["range"] or (0, 0)
        if dim.get("labels"):
            for k, lab in enumerate(dim["labels"]):
                ax.text(i + 0.03, _unit(dim, float(k)) or 0.0, str(lab), fontsize=7, va="center")
        else:
            ax.text(i, -0.06, f"{lo:.3g}", fontsize=7, ha="center", va="top")
            ax.text(i, 1.04, f"{hi:.3g}" + (" (log)" if dim.get("log") else ""), fontsize=7, ha="center")
    ax.set_xticks(range(len(dims)), [dim["name"] for dim in dims], rotation=20, fontsize=8, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.12)
    fig.colorbar(_mappable(cmap, norm), ax=ax, label=obj["name"])
    ax.set_title(f"Parallel coordinates: {len(d['trials'])} trials")


def _mappable(cmap: Colormap, norm: Normalize) -> ScalarMappable:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=cmap)


def draw_importance(fig: Figure, d: dict[str, Any]) -> None:
    objs = d["objectives"]
    for i, o in enumerate(objs):
        ax = fig.add_subplot(1, len(objs), i + 1)
        ps = list(reversed(o["params"]))
        ax.barh([p["name"] for p in ps], [p["importance"] for p in ps], color="#1f77b4")
        ax.set_xlim(0, 1)
        ax.set_xlabel("importance (share of explained variance)")
        ax.set_title(f"{o['name']}: {d['n_trials']} trials", fontsize=10)
    fig.suptitle("Parameter importance (omega squared, first-order)")


def draw_slices(fig: Figure, d: dict[str, Any]) -> None:
    params = d["params"]
    cols = min(3, len(params)) or 1
    rows = math.ceil(len(params) / cols)
    counted = set()
    for i, p in enumerate(params):
        ax = fig.add_subplot(rows, cols, i + 1)
        counted |= {q["number"] for q in p["points"]}
        _points(ax, [q["x"] for q in p["points"]], [q["y"] for q in p["points"]], "slice", s=14,
                c=["#1f77b4" if q["feasible"] else "#aaaaaa" for q in p["points"]])
        if p.get("labels"):
            ax.set_xticks(range(len(p["labels"])), [str(x) for x in p["labels"]], fontsize=7)
        elif p.get("log") and all(q["x"] > 0 for q in p["points"]) and p["points"]:
            ax.set_xscale("log")
        ax.set_xlabel(p["name"], fontsize=8)
        if i % cols == 0:
            ax.set_ylabel(d["objective_name"])
    fig.suptitle(f"Slice: {d['objective_name']} against each parameter, {len(counted)} trials")


def draw_contour(fig: Figure, d: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    x, y = d["x"], d["y"]
    cs = ax.contourf(x["grid"], y["grid"], d["z"], levels=14, cmap="viridis", alpha=0.85)
    fig.colorbar(cs, ax=ax, label=d["objective_name"])
    pts = d["points"]
    _points(ax, [p["x"] for p in pts], [p["y"] for p in pts], "contour", s=18, edgecolors="white",
            c=["#000000" if p["feasible"] else "#aaaaaa" for p in pts], zorder=3)
    for a, set_scale, set_ticks in ((x, ax.set_xscale, ax.set_xticks), (y, ax.set_yscale, ax.set_yticks)):
        if a.get("labels"):
            set_ticks(range(len(a["labels"])), [str(v) for v in a["labels"]])
        elif a.get("log"):
            set_scale("log")
    ax.set_xlabel(x["name"])
    ax.set_ylabel(y["name"])
    ax.set_title(f"Contour of {d['objective_name']}: {len(pts)} trials (interpolated)")


def draw_pareto(fig: Figure, d: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    names, dirs = d["objective_names"], d["directions"]
    groups = (("dominated", "#9ecae1", "o"), ("infeasible", "#aaaaaa", "x"), ("front", "#d62728", "o"))
    n = 0
    for key, color, marker in groups:
        rows = d[key]
        n += len(rows)
        _points(ax, [r["values"][0] for r in rows], [r["values"][1] for r in rows], "pareto_front", c=color,
                marker=marker, s=26, label=f"{key} ({len(rows)})", zorder=3)
    front = sorted(d["front"], key=lambda r: r["values"][0])
    ax.plot([r["values"][0] for r in front], [r["values"][1] for r in front], color="#d62728", linewidth=1)
    ax.set_xlabel(f"{names[0]} ({dirs[0]})")
    ax.set_ylabel(f"{names[1]} ({dirs[1]})")
    ax.legend(fontsize=8)
    extra = f" (objectives 1-2 of {len(names)})" if len(names) > 2 else ""
    ax.set_title(f"Pareto front: {len(d['front'])} of {n} trials{extra}")


DRAW = {"history": draw_history, "intermediate": draw_intermediate, "parallel_coordinates": draw_parallel,
        "importance": draw_importance, "slice": draw_slices, "contour": draw_contour, "pareto_front": draw_pareto}
TITLES = {"history": "Optimisation history", "intermediate": "Intermediate values",
          "parallel_coordinates": "Parallel coordinates", "importance": "Parameter importance", "slice": "Slice",
          "contour": "Contour", "pareto_front": "Pareto front"}


def write_plot_files(data: dict[str, Any], dest_dir: str | Path,
                     formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write every plot of the study in each format to ``dest_dir``; return the paths written."""
    from matplotlib import rc_context

    fmts = list(formats)
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise ValueError(f"formats: choose from {', '.join(FORMATS)}, got {fmts}")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    plots = study_plots.all_plots(data)
    if len(study_plots.directions(data)) == 1:
        plots.pop("pareto_front")
    written: list[Path] = []
    with rc_context(_rc()), warnings.catch_warnings():  # type: ignore[arg-type]
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        warnings.filterwarnings("ignore", message=r".*findfont.*")
        for name, draw in DRAW.items():
            if name not in plots:
                continue
            d = plots[name]
            wide = name in ("parallel_coordinates", "slice")
            fig = _figure((10.0, 5.6) if wide else (8.0, 4.8))
            if d.get("empty"):
                _message(fig, f"{TITLES[name]}: {data.get('study_id', '')}", d.get("message", "no data"))
            else:
                draw(fig, d)
            for fmt in fmts:
                path = dest / f"{name}.{fmt}"
                fig.savefig(path, format=fmt, metadata=_metadata(fmt, name, data))
                written.append(path)
    return written


def _metadata(fmt: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    title = f"{TITLES[name]} - {data.get('study_id', '')}"
    if fmt == "svg":
        return {"Title": title, "Date": None}  # no date: the same study gives the same file
    return {"Title": title, "Software": "tlm"}
