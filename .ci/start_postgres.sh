#!/usr/bin/env bash
# Start a throwaway PostgreSQL/PostGIS for the store tests (idempotent); prints the export line.
# Usage: .ci/start_postgres.sh [DATA_DIR] [PORT]   (defaults: /tmp/pgdata 5433)
set -euo pipefail

data_dir="${1:-/tmp/pgdata}"
port="${2:-5433}"
socket_dir="/tmp"
database="mapserver_test"
bin_dir="${PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

if [[ -z "${bin_dir}" || ! -x "${bin_dir}/initdb" ]]; then
  echo "PostgreSQL server binaries not found (install postgresql and postgresql-*-postgis-3)" >&2
  exit 1
fi

# The server refuses to run as root: run its tools as the postgres user then.
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ ! -f "${data_dir}/PG_VERSION" ]]; then
  mkdir -p "${data_dir}"
  if [[ "$(id -u)" == "0" ]]; then
    chown postgres "${data_dir}"
  fi
  as_pg "${bin_dir}/initdb" -D "${data_dir}" -A trust -U postgres >/dev/null
fi

if ! as_pg "${bin_dir}/pg_ctl" -D "${data_dir}" status >/dev/null 2>&1; then
  as_pg "${bin_dir}/pg_ctl" -D "${data_dir}" -o "-p ${port} -k ${socket_dir}" \
    -l "${data_dir}/server.log" -w start >/dev/null
fi

psql_pg() {
  PGOPTIONS="-c client_min_messages=warning" psql -h "${socket_dir}" -p "${port}" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [[ "$(psql_pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '${database}'")" != "1" ]]; then
  psql_pg -d postgres -c "CREATE DATABASE ${database}" >/dev/null
fi
psql_pg -d "${database}" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null

echo "export MAPSERVER_TEST_PG_URL='postgresql+psycopg://postgres@localhost:${port}/${database}'"
