"""PNG and SVG files of study plots (``tlm.study_plot_files``, matplotlib Agg): every plot is
written, PNGs are real PNGs, SVGs hold one marker per plotted trial, an empty study gives files
that say why."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("matplotlib")

from runtime.services import study_plots  # noqa: E402
from tests.study_examples import empty_study, multi_objective, single_objective  # noqa: E402
from tlm.study_plot_files import write_plot_files  # noqa: E402

pytestmark = [pytest.mark.unit, pytest.mark.slow]
PNG = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def markers(svg_path, plot: str) -> int:
    root = ET.parse(svg_path).getroot()
    groups = [g for g in root.iter(f"{SVG}g") if g.get("id") == f"points-{plot}"]
    return sum(1 for g in groups for _ in g.iter(f"{SVG}use"))


def test_every_plot_is_written_as_png_and_svg_with_its_points(tmp_path):
    # Given a single-objective study with 11 scored trials (one infeasible), pruned and running ones
    data = single_objective()
    # When its plots are written in both formats
    paths = write_plot_files(data, tmp_path / "plots")
    # Then each plot has a PNG and an SVG (no Pareto front for one objective)
    names = {p.name for p in paths}
    plots = ("history", "intermediate", "parallel_coordinates", "importance", "slice", "contour")
    assert names == {f"{n}.{f}" for n in plots for f in ("png", "svg")}
    for p in paths:
        assert p.stat().st_size > 4000, p
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG
    # And the SVGs carry one marker per trial drawn, and say how many
    n_scored = len(study_plots.scored(data))
    svg = (tmp_path / "plots" / "history.svg").read_text(encoding="utf-8")
    assert markers(tmp_path / "plots" / "history.svg", "history") == n_scored == 11
    assert f"Optimisation history: {n_scored} trials, 1 infeasible" in svg
    assert markers(tmp_path / "plots" / "contour.svg", "contour") == 11
    n_steps = sum(len(t["steps"]) for t in study_plots.intermediate(data)["trials"])
    assert markers(tmp_path / "plots" / "intermediate.svg", "intermediate") == n_steps
    assert "training.learning_rate" in (tmp_path / "plots" / "importance.svg").read_text(encoding="utf-8")


def test_a_multi_objective_study_gets_its_pareto_front_with_chinese_names(tmp_path):
    data = multi_objective() | {"objective_names": ["验证准确率", "latency_ms_b1"]}
    paths = write_plot_files(data, tmp_path, formats=("svg",))
    assert all(p.suffix == ".svg" for p in paths) and (tmp_path / "pareto_front.svg") in paths
    svg = (tmp_path / "pareto_front.svg").read_text(encoding="utf-8")
    assert "Pareto front: 3 of 5 trials" in svg and "验证准确率 (maximize)" in svg  # text stays text
    assert markers(tmp_path / "pareto_front.svg", "pareto_front") == 5


def test_an_empty_study_writes_plots_that_say_why(tmp_path):
    paths = write_plot_files(empty_study(), tmp_path, formats=("png", "svg"))
    assert len(paths) == 12
    assert all(p.read_bytes()[:8] == PNG for p in paths if p.suffix == ".png")
    assert "no completed trials yet" in (tmp_path / "history.svg").read_text(encoding="utf-8")


def test_an_unknown_format_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="formats"):
        write_plot_files(single_objective(), tmp_path / "x", formats=("png", "gif"))
    assert not (tmp_path / "x").exists()
