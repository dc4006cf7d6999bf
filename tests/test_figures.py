"""Figure builders: what they draw lies where the data say (the Rollouts player's frames, equal scales, force arrows)."""
import numpy
import pytest

from chlu_core import figures

STEPS, PER_CYCLE, DT = 300, 40, 0.05


def runs(with_energy: bool = True) -> dict:
    t = numpy.arange(STEPS + 1) * DT
    plane = {"q": numpy.stack([numpy.sin(t), numpy.sin(2 * t) / 2], -1),
             "v": numpy.stack([numpy.cos(t), numpy.cos(2 * t)], -1)}
    line = {"q": 0.5 * numpy.cos(3 * t)[:, None], "v": -1.5 * numpy.sin(3 * t)[:, None]}
    if with_energy:
        plane["H"] = 2.0 + 0.01 * numpy.sin(t)
    return {"CHLU": plane, "LSTM": line}


def moving_traces(figure) -> list:
    return list(figure.frames[0].traces)


def test_each_frame_puts_every_marker_at_its_time_step():
    fig = figures.rollout_player(runs(), PER_CYCLE, DT, frames=31)
    data = runs()
    steps = [int(frame.name) for frame in fig.frames]
    assert steps[0] == 0 and steps[-1] == STEPS and steps == sorted(steps)
    chlu_tail, lstm_tail, phase, energy = moving_traces(fig)
    for frame, step in zip(fig.frames, steps):
        by_trace = dict(zip(frame.traces, frame.data))
        # The head of each tail (its last point): x–y plane for the 2-D run, phase plane for the 1-D one.
        assert by_trace[chlu_tail].x[-1] == pytest.approx(data["CHLU"]["q"][step, 0], abs=1e-4)
        assert by_trace[chlu_tail].y[-1] == pytest.approx(data["CHLU"]["q"][step, 1], abs=1e-4)
        assert by_trace[lstm_tail].y[-1] == pytest.approx(data["LSTM"]["v"][step, 0], abs=1e-4)
        assert list(by_trace[phase].x) == pytest.approx([data["CHLU"]["q"][step, 0], data["LSTM"]["q"][step, 0]], abs=1e-4)
        assert list(by_trace[energy].x) == pytest.approx([step * DT])
        assert list(by_trace[energy].y) == pytest.approx([data["CHLU"]["H"][step]], abs=1e-3)


def test_tails_cover_a_quarter_cycle_and_stop_at_the_start():
    fig = figures.rollout_player(runs(), PER_CYCLE, DT, frames=31)
    tail = moving_traces(fig)[0]
    first, last = (dict(zip(f.traces, f.data))[tail] for f in (fig.frames[0], fig.frames[-1]))
    assert len(set(first.x)) == 1  # at t = 0 the whole tail sits on the start
    start = runs()["CHLU"]["q"][STEPS - PER_CYCLE // 4]
    assert (first.x[0], last.x[0], last.y[0]) == pytest.approx((first.x[-1], start[0], start[1]), abs=1e-4)


def test_the_slider_offers_one_step_per_frame_labelled_in_time_units():
    fig = figures.rollout_player(runs(), PER_CYCLE, DT, frames=31)
    (slider,) = fig.layout.sliders
    assert [list(step.args[0]) for step in slider.steps] == [[frame.name] for frame in fig.frames]
    assert [step.label for step in slider.steps] == [f"{int(f.name) * DT:.2f}" for f in fig.frames]
    assert slider.active == 0
    assert [button.label for button in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert len(fig.frames) <= 32


def test_without_an_energy_there_is_no_energy_panel():
    titles = [a.text for a in figures.rollout_player(runs(with_energy=False), PER_CYCLE, DT).layout.annotations]
    assert titles == ["CHLU", "LSTM", "Phase space"]
    titles = [a.text for a in figures.rollout_player(runs(), PER_CYCLE, DT).layout.annotations]
    assert titles == ["CHLU", "LSTM", "Phase space", "Energy H(t)"]


def test_bad_runs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least one run"):
        figures.rollout_player({}, PER_CYCLE, DT)
    uneven = runs()
    uneven["LSTM"] = {name: value[:-1] for name, value in uneven["LSTM"].items()}
    with pytest.raises(ValueError, match="same number of time steps"):
        figures.rollout_player(uneven, PER_CYCLE, DT)


def test_orbit_panels_keep_equal_scales_on_every_panel():
    fig = figures.orbit_panels({name: run["q"] for name, run in runs().items() if name == "CHLU"} | {
        "copy": runs()["CHLU"]["q"]}, numpy.zeros((3, 2)), PER_CYCLE)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis2.scaleanchor == "x2"


def test_force_field_arrows_start_on_the_grid_and_point_along_the_force():
    xs, ys = numpy.linspace(-1, 1, 5), numpy.linspace(-2, 2, 9)  # spacing 0.5 both ways
    gx, gy = numpy.meshgrid(xs, ys)
    fx, fy = -gx + 0.3 * gy, -2 * gy  # an arbitrary field, zero at the origin
    figure = figures.force_field(xs, ys, fx, fy, trajectory=numpy.zeros((10, 2)))
    arrows = figure.data[0]
    x, y = numpy.asarray(arrows.x).reshape(-1, 6), numpy.asarray(arrows.y).reshape(-1, 6)
    start, tip = numpy.stack([x[:, 0], y[:, 0]], -1), numpy.stack([x[:, 1], y[:, 1]], -1)
    numpy.testing.assert_allclose(start, numpy.stack([gx.ravel(), gy.ravel()], -1))
    shaft, force = tip - start, numpy.stack([fx.ravel(), fy.ravel()], -1)
    lengths = numpy.linalg.norm(shaft, axis=1)
    assert lengths.max() == pytest.approx(0.9 * 0.5)  # the longest spans 0.9 of the grid spacing
    numpy.testing.assert_allclose(shaft, force * lengths.max() / numpy.linalg.norm(force, axis=1).max(), atol=1e-12)
    numpy.testing.assert_allclose(x[:, [1, 3]], x[:, [3, 1]])  # both barbs leave from the tip
    assert numpy.isnan(x[:, 5]).all() and numpy.isnan(y[:, 5]).all()  # a gap between arrows
    moving = lengths > 0
    for barb in (2, 4):  # a third of the arrow long, 30° off the backward shaft
        back = numpy.stack([x[:, barb], y[:, barb]], -1) - tip
        numpy.testing.assert_allclose(numpy.linalg.norm(back, axis=1), lengths / 3, atol=1e-12)
        cosine = -(back * shaft).sum(1)[moving] / (lengths[moving] ** 2 / 3)
        numpy.testing.assert_allclose(cosine, numpy.cos(numpy.pi / 6), atol=1e-9)
    assert figure.data[-1].name == "CHLU output"


def test_the_kinetic_energy_figures_name_their_axes():
    times, waves = numpy.linspace(0.0, 1.0, 21), 3
    energies = {name: numpy.ones((21, waves)) for name in ("LSTM", "CHLU")}
    panels = figures.kinetic_energy_panels(times, numpy.ones((21, waves)), energies)
    # Row r, column 1 is subplot (r − 1)·2 + 1; shared x-axes carry their title on the bottom row only.
    assert [panels.layout[f"yaxis{'' if r == 0 else 2 * r + 1}"].title.text for r in range(waves)] == \
        ["½q̇², wave 1", "½q̇², wave 2", "½q̇², wave 3"]
    assert [panels.layout[f"xaxis{2 * waves - 1}"].title.text, panels.layout[f"xaxis{2 * waves}"].title.text] == \
        ["time t", "time t"]
    q_vs_p = figures.kinetic_energy_q_vs_p(times, energies, energies)
    assert (q_vs_p.layout.yaxis.title.text, q_vs_p.layout.yaxis3.title.text) == ("½q̇², q̇ from q", "½v², v from p")
    assert (q_vs_p.layout.xaxis3.title.text, q_vs_p.layout.xaxis4.title.text) == ("time t", "time t")
