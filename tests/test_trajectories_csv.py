import math

import pytest
import torch

from chlu_core.data.trajectories_csv import read_trajectories_csv


def circle_csv(n_trajectories=2, steps=40, dt=0.05, velocities=True, time=True):
    header = ["trajectory"] + (["t"] if time else []) + ["x", "y"] + (["vx", "vy"] if velocities else [])
    lines = [",".join(header)]
    for k in range(n_trajectories):
        for i in range(steps):
            t = i * dt
            row = [f"run{k}"] + ([f"{t:.6f}"] if time else [])
            row += [f"{math.cos(t + k):.9f}", f"{math.sin(t + k):.9f}"]
            row += [f"{-math.sin(t + k):.9f}", f"{math.cos(t + k):.9f}"] if velocities else []
            lines.append(",".join(row))
    return "\n".join(lines).encode()


def test_positions_and_given_velocities_are_read_in_order():
    data = read_trajectories_csv(circle_csv())
    assert data.ids == ["run0", "run1"] and data.position_names == ["x", "y"] and data.velocities_given
    assert data.dt == pytest.approx(0.05)
    assert data.states[1].shape == (40, 4)
    assert data.states[1][3].tolist() == pytest.approx(
        [math.cos(0.15 + 1), math.sin(0.15 + 1), -math.sin(0.15 + 1), math.cos(0.15 + 1)], abs=1e-6)


def test_missing_velocities_come_from_second_order_finite_differences():
    data = read_trajectories_csv(circle_csv(velocities=False, time=False), dt=0.05)
    assert not data.velocities_given
    t = torch.arange(40) * 0.05
    expected = torch.stack([-torch.sin(t), torch.cos(t)], dim=1)
    assert torch.allclose(data.states[0][:, 2:], expected, atol=2e-3)


def test_rows_are_sorted_by_time_and_stacked_to_the_shortest_trajectory():
    rows = [f"a,{t},{t * 2}" for t in (3, 1, 0, 2, 4)] + [f"b,{t},{-t}" for t in (0, 1, 2)]
    data = read_trajectories_csv(("id,time,q1\n" + "\n".join(rows)).encode())
    assert data.states[0][:, 0].tolist() == [0, 2, 4, 6, 8]
    assert data.states[0][:, 1].tolist() == pytest.approx([2.0] * 5)  # d(2t)/dt
    stacked = data.stacked()
    assert stacked.shape == (3, 2, 2)
    assert stacked[:, 0, 0].tolist() == [0, 2, 4] and stacked[:, 1, 0].tolist() == [0, -1, -2]


@pytest.mark.parametrize("text, message", [
    (b"", "no data rows"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"x,y\n1,2\n", "trajectory id column"),
    (b"id,a,b\n1,2,3\n", "no position columns"),
    (b"id,t,x,y,vx\n1,0,1,2,3\n", "missing vy"),
    (b"id,t,x\n1,0,1\n1,0.1,oops\n1,0.2,2\n", "row 3, column 'x'"),
    (b"id,t,x\n1,0,1\n1,0.1,nan\n1,0.2,2\n", "not a finite number"),
    (b"id,t,x\n1,0,1\n1,0.1\n", "row 3 has 2 fields"),
    (b"id,t,x\n1,0,1\n1,0.1,1\n1,0.5,1\n", "uneven time steps"),
    (b"id,t,x\n1,0,1\n1,0,1\n1,0.1,1\n", "repeats a time value"),
    (b"id,x\n1,0\n1,1\n1,2\n", "give the time step dt"),
    (b"id,t,x\n1,0,0\n1,0.1,1\n", "needs at least 3"),
    (b"id,t,x,x\n1,0,0,0\n", "repeats a column"),
    (b"id,t,x\n1,0,1\n1,0.1,1e300\n1,0.2,2\n", "row 3, column 'x': 1e300 is beyond float32's range"),
])
def test_bad_files_raise_a_clear_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        read_trajectories_csv(text)


def test_given_dt_must_agree_with_the_time_column():
    with pytest.raises(ValueError, match="disagrees"):
        read_trajectories_csv(circle_csv(), dt=0.1)
    assert read_trajectories_csv(circle_csv(), dt=0.05).dt == pytest.approx(0.05)


def test_a_fallback_dt_serves_only_files_without_a_time_column():
    assert read_trajectories_csv(circle_csv(), fallback_dt=0.5).dt == pytest.approx(0.05)  # the file's own t
    assert read_trajectories_csv(b"id,x\n1,0\n1,1\n1,2\n", fallback_dt=0.5).dt == 0.5


def test_finite_difference_velocities_beyond_float32_are_refused():
    with pytest.raises(ValueError, match="trajectory '1' has positions or velocities beyond float32"):
        read_trajectories_csv(b"id,x\n1,3e38\n1,-3e38\n1,3e38\n", dt=0.001)


def test_lengths_report_each_trajectory_before_stacking_cuts_them():
    data = read_trajectories_csv(b"id,x\n1,0\n1,1\n1,2\n2,0\n2,1\n2,2\n2,3\n", dt=0.1)
    assert data.lengths == [3, 4] and data.stacked().shape == (3, 2, 2)
