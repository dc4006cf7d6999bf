"""Trajectories from a CSV file: one row per time step, for training a model on your own data
(:meth:`TrajectoryData.stacked` gives the trainers' ``(time, n_trajectories, 2·dim)`` input).

Columns (header names, case-insensitive; other columns are ignored):

- ``trajectory`` (or ``trajectory_id``, ``id``): which trajectory the row belongs to;
- ``t`` (or ``time``), optional: the time of the row; rows are sorted by it and its spacing sets dt;
- positions: ``x``, ``y``, ``z`` or ``q1``, ``q2``, … (also ``q_1``, ``q0``): the configuration q;
- velocities, optional: ``v`` + the position's suffix (``vx`` for ``x``, ``v1`` for ``q1``); when absent
  they are taken by finite differences of the positions (second-order central, one-sided at the ends).

Every problem raises ``ValueError`` naming the row or column, so a dashboard can show it as is.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy
import torch

ID_COLUMNS = ("trajectory", "trajectory_id", "id")
TIME_COLUMNS = ("t", "time")
POSITION_PATTERN = re.compile(r"^(x|y|z|q_?\d+)$")
Source = Union[str, os.PathLike, bytes, BinaryIO]
FLOAT32_MAX = float(numpy.finfo(numpy.float32).max)


def velocity_column(position: str) -> str:
    """The velocity column that belongs to a position column: ``x`` → ``vx``, ``q1`` → ``v1``."""
    return "v" + (position[1:] if position.startswith("q") else position)


@dataclass
class TrajectoryData:
    """Parsed trajectories: ``states[i]`` is a float32 ``(time_i, 2·dim)`` tensor of positions then
    velocities; ``ids`` names them; ``velocities_given`` says whether velocities came from the file."""

    ids: list
    states: list
    position_names: list
    dt: float
    velocities_given: bool

    @property
    def dim(self) -> int:
        return len(self.position_names)

    @property
    def lengths(self) -> list:
        """The number of time steps of each trajectory."""
        return [len(s) for s in self.states]

    def stacked(self) -> torch.Tensor:
        """The trajectories as the trainers take them, ``(time, n_trajectories, 2·dim)``: every
        trajectory cut to the length of the shortest (equal lengths lose nothing)."""
        shortest = min(len(s) for s in self.states)
        return torch.stack([s[:shortest] for s in self.states], dim=1)


def _read_text(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        raw = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
    else:
        raw = source.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text; upload a CSV file (comma-separated, with a header row)") from None


def _find(header: list, names: tuple) -> str | None:
    return next((name for name in names if name in header), None)


def _number(text: str, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"row {row}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"row {row}, column {column!r}: {text!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:
        raise ValueError(f"row {row}, column {column!r}: {text} is beyond float32's range (±{FLOAT32_MAX:.3g}), "
                         "which the models compute in; rescale the data")
    return value


def read_trajectories_csv(source: Source, dt: float | None = None,
                          fallback_dt: float | None = None) -> TrajectoryData:
    """Parse a CSV of trajectories (see the module docstring for the columns).

    ``dt`` is the time step; it is required when the file has no time column and, when both are
    given, must agree with the file's spacing. ``fallback_dt`` is a step for a file without a time
    column only (a form's default, say): a file's own time column wins over it.
    """
    rows = list(csv.reader(io.StringIO(_read_text(source))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ValueError("the file has no data rows; expected a header row and one row per time step")
    header = [cell.strip().lower() for cell in rows[0]]
    if len(set(header)) != len(header):
        raise ValueError(f"the header repeats a column name: {rows[0]}")
    id_column = _find(header, ID_COLUMNS)
    if id_column is None:
        raise ValueError(f"no trajectory id column; name one of {', '.join(ID_COLUMNS)} (header: {header})")
    positions = [name for name in header if POSITION_PATTERN.match(name)]
    if not positions:
        raise ValueError(f"no position columns; name them x, y, z or q1, q2, … (header: {header})")
    velocities = [velocity_column(name) for name in positions]
    present = [name in header for name in velocities]
    if any(present) and not all(present):
        missing = [v for v, here in zip(velocities, present) if not here]
        raise ValueError(f"velocity columns are incomplete: missing {', '.join(missing)}; give a velocity "
                         "for every position or none (then they are taken by finite differences)")
    time_column = _find(header, TIME_COLUMNS)
    numeric = positions + (velocities if all(present) else []) + ([time_column] if time_column else [])
    index = {name: header.index(name) for name in numeric + [id_column]}

    groups: dict = {}
    for row_number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"row {row_number} has {len(row)} fields but the header has {len(header)}")
        values = [_number(row[index[name]], row_number, name) for name in numeric]
        groups.setdefault(row[index[id_column]].strip(), []).append(values)

    dt = _time_step(groups, numeric, time_column, fallback_dt if dt is None and time_column is None else dt)
    dim = len(positions)
    states = []
    for trajectory_id, values in groups.items():
        table = numpy.asarray(values, dtype=numpy.float64)
        if len(table) < 3:
            raise ValueError(f"trajectory {trajectory_id!r} has {len(table)} rows; it needs at least 3")
        if time_column:
            table = table[numpy.argsort(table[:, -1], kind="stable")]
        q = table[:, :dim]
        v = table[:, dim:2 * dim] if all(present) else numpy.gradient(q, dt, axis=0, edge_order=2)
        state = torch.from_numpy(numpy.concatenate([q, v], axis=1)).float()
        if not torch.isfinite(state).all():
            raise ValueError(f"trajectory {trajectory_id!r} has positions or velocities beyond float32's range "
                             f"(±{FLOAT32_MAX:.3g}); rescale the data")
        states.append(state)
    return TrajectoryData(list(groups), states, positions, dt, all(present))


def _time_step(groups: dict, numeric: list, time_column: str | None, dt: float | None) -> float:
    """dt from the time column (uniform within 1 %) or the argument, checked against each other."""
    if time_column is None:
        if dt is None or not (math.isfinite(dt) and dt > 0):
            raise ValueError("the file has no time column (t or time), so give the time step dt (> 0)")
        return float(dt)
    steps = []
    for trajectory_id, values in groups.items():
        times = numpy.sort(numpy.asarray([row[-1] for row in values]))
        differences = numpy.diff(times)
        if len(differences) == 0:
            continue
        if differences.min() <= 0:
            raise ValueError(f"trajectory {trajectory_id!r} repeats a time value; each row needs its own time")
        if differences.max() - differences.min() > 0.01 * differences.mean():
            raise ValueError(f"trajectory {trajectory_id!r} has uneven time steps "
                             f"({differences.min():.4g} to {differences.max():.4g}); resample it to a fixed dt")
        steps.append(float(differences.mean()))
    file_dt = float(numpy.mean(steps)) if steps else None
    if file_dt is None:
        raise ValueError("every trajectory has a single row; a trajectory needs at least 3 rows")
    if max(steps) - min(steps) > 0.01 * file_dt:
        raise ValueError(f"trajectories use different time steps ({min(steps):.4g} to {max(steps):.4g})")
    if dt is not None and abs(dt - file_dt) > 0.01 * file_dt:
        raise ValueError(f"the time column's step {file_dt:.4g} disagrees with the given dt = {dt:.4g}")
    return file_dt
