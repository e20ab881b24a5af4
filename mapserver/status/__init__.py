"""Status schemes, the join of status rows to buildings and grids, and the roll-up."""
