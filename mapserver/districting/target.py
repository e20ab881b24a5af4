"""Target ranges for grid sizes, in households or residents, and the presets in use."""

from __future__ import annotations

from dataclasses import dataclass

MEASURES: tuple[str, ...] = ("households", "residents")


@dataclass(frozen=True)
class Target:
    """An inclusive range ``minimum..maximum`` of ``measure`` per grid.

    Parameters
    ----------
    minimum, maximum
        Bounds, inclusive, in units of ``measure``.
    measure
        ``"households"`` or ``"residents"``: the buildings column the range applies to.
    """

    minimum: int = 20
    maximum: int = 30
    measure: str = "households"

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            msg = f"target measure {self.measure!r} is not one of {', '.join(MEASURES)}"
            raise ValueError(msg)
        if not 0 <= self.minimum <= self.maximum:
            msg = f"target range {self.minimum}-{self.maximum} is empty or negative"
            raise ValueError(msg)

    @property
    def middle(self) -> float:
        """The centre of the range, the size a balanced grid aims at."""
        return (self.minimum + self.maximum) / 2.0

    def contains(self, value: float) -> bool:
        """Return True when ``value`` lies within the range (bounds included)."""
        return self.minimum <= value <= self.maximum

    def __str__(self) -> str:
        return f"{self.minimum}–{self.maximum} {self.measure}"


MICRO = Target(20, 30)  # 微网格: 20-30 households (卫家角第三居民区)
HOMESTEAD = Target(5, 15)  # 宅基网格: 5-15 households (星火村)
TEN_HOUSEHOLD = Target(8, 12)  # 十户联防: about 10 households
RESIDENTS = Target(400, 500, "residents")  # 微网格: 400-500 residents
