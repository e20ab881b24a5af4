"""Route plans of the store: delivery and patrol plans, stop marks, drivers, check-ins."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mapserver.store import (
    routeplans,
)
from mapserver.store.writes import (
    utc_now,
)


class RoutePlanStore:
    """The routes part of :class:`~mapserver.store.sql.Store` (a mixin: it uses the
    store's engines, tables and audit helper)."""

    def save_route_plan(
        self, *, kind: str, name: str, data: dict, problem: dict | None = None, user: str
    ) -> str:
        """Save a delivery or patrol plan (JSON ``data``; ``problem``: the JSON data
        re-planning needs, kept apart); returns its id."""
        with self._write() as conn:
            plan_id = routeplans.insert_plan(
                conn,
                self.tables,
                kind=kind,
                name=name,
                data=data,
                problem=problem,
                user=user,
            )
            self._audit(
                conn,
                kind="route_plan.create",
                entity=f"route_plan:{plan_id}",
                new={"kind": kind, "name": name},
                actor=user,
            )
            return plan_id

    def rename_route_plan(self, plan_id: str, name: str, *, user: str) -> None:
        """Give a saved plan a name of the dispatcher's choosing (audited)."""
        table = self.tables["route_plans"]
        with self._write() as conn:
            before = routeplans.read_plan(conn, table, plan_id)["name"]
            conn.execute(table.update().where(table.c.plan_id == plan_id).values(name=name))
            self._audit(
                conn,
                kind="route_plan.rename",
                entity=f"route_plan:{plan_id}",
                old={"name": before},
                new={"name": name},
                actor=user,
            )

    def archive_route_plan(self, plan_id: str, archived: bool, *, user: str) -> None:
        """Put a plan away (or take it back out): it stays, listed apart (audited)."""
        table = self.tables["route_plan_archive"]
        with self._write() as conn:
            routeplans.read_plan(conn, self.tables["route_plans"], plan_id)  # NotFoundError
            conn.execute(table.delete().where(table.c.plan_id == plan_id))
            if archived:
                conn.execute(
                    table.insert().values(plan_id=plan_id, archived_at=utc_now(), username=user)
                )
            self._audit(
                conn,
                kind="route_plan.archive",
                entity=f"route_plan:{plan_id}",
                new={"archived": archived},
                actor=user,
            )

    def delete_route_plan(self, plan_id: str, *, user: str) -> None:
        """Delete a saved plan with its stop marks, drivers and re-planning data (audited)."""
        plans = self.tables["route_plans"]
        with self._write() as conn:
            found = routeplans.read_plan(conn, plans, plan_id)
            for name in ("stop_events", "route_drivers", "route_problems", "route_plan_archive"):
                table = self.tables[name]
                conn.execute(table.delete().where(table.c.plan_id == plan_id))
            conn.execute(plans.delete().where(plans.c.plan_id == plan_id))
            self._audit(
                conn,
                kind="route_plan.delete",
                entity=f"route_plan:{plan_id}",
                old={"kind": found["kind"], "name": found["name"]},
                actor=user,
            )

    def record_checkin(self, plan_id: str, checkpoint_id: str, *, user: str) -> dict:
        """Note that ``user`` passed ``checkpoint_id`` on patrol plan ``plan_id`` now."""
        table = self.tables["patrol_checkins"]
        row = {"plan_id": plan_id, "checkpoint_id": checkpoint_id, "username": user}
        row["at"] = utc_now()
        with self._write() as conn:
            seq = conn.execute(table.insert().values(**row)).inserted_primary_key[0]
        return {"seq": int(seq), **row}

    def read_checkins(self, plan_id: str) -> list[dict]:
        """The check-ins of a patrol plan, oldest first."""
        table = self.tables["patrol_checkins"]
        query = sa.select(table).where(table.c.plan_id == plan_id).order_by(table.c.seq)
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def read_checkins_since(self, since: datetime) -> list[dict]:
        """Every plan's check-ins at or after ``since``, oldest first."""
        table = self.tables["patrol_checkins"]
        after = since.astimezone(UTC).isoformat(timespec="milliseconds")
        query = sa.select(table).where(table.c.at >= after).order_by(table.c.seq)
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def get_route_plan(self, plan_id: str) -> dict:
        """A saved plan (``data`` decoded); NotFoundError when missing."""
        with self._reader.connect() as conn:
            return routeplans.read_plan(conn, self.tables["route_plans"], plan_id)

    def get_route_problem(self, plan_id: str) -> dict | None:
        """The re-planning data saved with a plan (None when it was saved without)."""
        with self._reader.connect() as conn:
            return routeplans.read_problem(conn, self.tables["route_problems"], plan_id)

    def list_route_plans(self, *, kind: str | None = None) -> list[dict]:
        """Saved plans, newest first, without their data; ``archived`` says which were put
        away."""
        archive = self.tables["route_plan_archive"]
        with self._reader.connect() as conn:
            plans = routeplans.list_plans(conn, self.tables["route_plans"], kind)
            away = set(conn.execute(sa.select(archive.c.plan_id)).scalars())
        for plan in plans:
            plan["archived"] = plan["plan_id"] in away
        return plans

    def record_stop_event(
        self,
        plan_id: str,
        route_id: str,
        stop_id: str,
        *,
        state: str,
        reason: str | None = None,
        user: str,
    ) -> int:
        """Record a stop delivered / failed (with reason) / pending again; returns its seq."""
        table = self.tables["stop_events"]
        with self._write() as conn:
            before = conn.execute(
                sa.select(table.c.state, table.c.reason)
                .where(
                    table.c.plan_id == plan_id,
                    table.c.route_id == route_id,
                    table.c.stop_id == stop_id,
                )
                .order_by(table.c.seq.desc())
                .limit(1)
            ).first()
            seq = routeplans.insert_stop_event(
                conn,
                table,
                plan_id=plan_id,
                route_id=route_id,
                stop_id=stop_id,
                state=state,
                reason=reason,
                user=user,
            )
            self._audit(
                conn,
                kind="stop.mark",
                entity=f"stop:{plan_id}/{route_id}/{stop_id}",
                old=None if before is None else {"state": before.state, "reason": before.reason},
                new={"state": state, "reason": reason, "seq": seq},
                actor=user,
            )
            return seq

    def stop_states(self, plan_id: str) -> dict[tuple[str, str], dict]:
        """Latest event per (route id, stop id) of a plan."""
        with self._reader.connect() as conn:
            return routeplans.stop_states(conn, self.tables["stop_events"], plan_id)

    def last_stop_event(self) -> int:
        """Highest stop-event sequence number (0 when none): the map's delivery signal."""
        table = self.tables["stop_events"]
        with self._reader.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(table.c.seq))).scalar() or 0)

    def assign_driver(self, plan_id: str, route_id: str, username: str | None) -> None:
        """Assign a route to a driver (None: unassign)."""
        table = self.tables["route_drivers"]
        with self._write() as conn:
            where = (table.c.plan_id == plan_id) & (table.c.route_id == route_id)
            before = conn.execute(sa.select(table.c.username).where(where)).scalar()
            conn.execute(sa.delete(table).where(where))
            if username is not None:
                values = {"plan_id": plan_id, "route_id": route_id, "username": username}
                conn.execute(sa.insert(table), values)
            self._audit(
                conn,
                kind="route.assign",
                entity=f"route:{plan_id}/{route_id}",
                old={"driver": before},
                new={"driver": username},
            )

    def route_drivers(self, plan_id: str) -> dict[str, str]:
        """Route id → assigned driver's username, for one plan."""
        table = self.tables["route_drivers"]
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.route_id, table.c.username).where(table.c.plan_id == plan_id)
            ).all()
        return {r.route_id: r.username for r in rows}

    def routes_of_driver(self, username: str) -> list[tuple[str, str]]:
        """(plan id, route id) of every route assigned to a driver."""
        table = self.tables["route_drivers"]
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.plan_id, table.c.route_id).where(table.c.username == username)
            ).all()
        return [(r.plan_id, r.route_id) for r in rows]
