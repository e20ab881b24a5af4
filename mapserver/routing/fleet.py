"""Depots, vehicle types and the delivery runs (morning, afternoon) as time windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

HOUR_S = 3600
# Twice-a-day delivery team (morning and afternoon runs), seconds since midnight.
RUNS: dict[str, tuple[int, int]] = {
    "morning": (7 * HOUR_S, 11 * HOUR_S),
    "afternoon": (14 * HOUR_S, 18 * HOUR_S),
}


@dataclass(frozen=True)
class Depot:
    """A place the vehicles load at: a road node of the drive graph."""

    depot_id: str
    node_id: str
    name: str = ""


@dataclass(frozen=True)
class VehicleType:
    """Vehicles of one kind, all starting and ending at one depot.

    ``capacity`` in boxes; ``speed_kmh`` the mean road speed (km/h); ``shift``
    the (start, end) the vehicles may be out, in seconds since midnight;
    ``max_duration_s`` the longest a route may last (``None``: the shift);
    ``fixed_cost`` the cost of using one vehicle, in metre-equivalents;
    ``max_trips`` how many loads a vehicle may carry in one run, going back
    to its depot to reload between them (1: one load).
    """

    name: str
    capacity: int
    count: int = 1
    speed_kmh: float = 30.0
    shift: tuple[int, int] = RUNS["morning"]
    max_duration_s: int | None = None
    depot_node: str = ""
    fixed_cost: int = 0
    label: str = ""
    max_trips: int = 1

    def __post_init__(self) -> None:
        if self.max_trips < 1:
            msg = f"vehicle type '{self.name}': max_trips must be at least 1, got {self.max_trips}"
            raise ValueError(msg)
        if self.capacity <= 0 or self.count <= 0 or self.speed_kmh <= 0:
            msg = (
                f"vehicle type '{self.name}': capacity ({self.capacity}), count ({self.count}) "
                f"and speed ({self.speed_kmh} km/h) must be positive"
            )
            raise ValueError(msg)
        if self.shift[1] <= self.shift[0]:
            msg = f"vehicle type '{self.name}': shift ends ({self.shift[1]} s) before it starts"
            raise ValueError(msg)
        if not self.depot_node:
            msg = f"vehicle type '{self.name}': no depot node"
            raise ValueError(msg)

    @property
    def speed_ms(self) -> float:
        """Speed in metres per second."""
        return self.speed_kmh / 3.6

    @property
    def duration_limit_s(self) -> int:
        """The longest route in seconds: ``max_duration_s`` or the whole shift."""
        length = self.shift[1] - self.shift[0]
        return length if self.max_duration_s is None else min(self.max_duration_s, length)

    def route_ids(self) -> tuple[str, ...]:
        """One id per vehicle: ``"<name>-1"``, ``"<name>-2"``, ..."""
        return tuple(f"{self.name}-{k}" for k in range(1, self.count + 1))


def run_window(run: str) -> tuple[int, int]:
    """The (start, end) of a named run in seconds since midnight.

    Parameters
    ----------
    run
        ``"morning"`` (07:00-11:00) or ``"afternoon"`` (14:00-18:00).

    Raises
    ------
    ValueError
        For an unknown run name.
    """
    if run not in RUNS:
        msg = f"unknown run {run!r}: use one of {list(RUNS)}"
        raise ValueError(msg)
    return RUNS[run]


def for_run(fleet: Sequence[VehicleType], run: str) -> tuple[VehicleType, ...]:
    """The fleet with every shift set to a named run's window (see :data:`RUNS`)."""
    window = run_window(run)
    return tuple(replace(v, shift=window) for v in fleet)


def default_fleet(
    depot: Depot | str,
    *,
    run: str = "morning",
    vans: int = 2,
    tricycles: int = 2,
    max_duration_s: int | None = None,
    max_trips: int = 1,
) -> tuple[VehicleType, ...]:
    """Vans (120 boxes, 30 km/h) and electric tricycles (40 boxes, 15 km/h) at one depot.

    Parameters
    ----------
    depot
        The depot or its road node id.
    run
        The run whose window is every vehicle's shift (``"morning"``, ``"afternoon"``).
    vans, tricycles
        How many of each; a zero count leaves the type out.
    max_duration_s
        Longest route in seconds (``None``: the run's length).
    max_trips
        Loads each vehicle may carry in the run, reloading at the depot between them.

    Returns
    -------
    tuple of VehicleType
    """
    node = depot.node_id if isinstance(depot, Depot) else str(depot)
    shift = run_window(run)
    out = []
    if vans:
        out.append(
            VehicleType(
                "van",
                120,
                vans,
                30.0,
                shift,
                max_duration_s,
                node,
                label="厢式货车 van",
                max_trips=max_trips,
            )
        )
    if tricycles:
        out.append(
            VehicleType(
                "tricycle",
                40,
                tricycles,
                15.0,
                shift,
                max_duration_s,
                node,
                label="电动三轮车 e-tricycle",
                max_trips=max_trips,
            )
        )
    return tuple(out)
