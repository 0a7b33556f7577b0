#!/usr/bin/env bash
# PostgreSQL 18: what putting a foreign key back costs, the two ways fkload can
# set it aside. On a throwaway server, a child of N rows references a parent of N
# rows; each way runs in a transaction that is rolled back, alternating, R times:
#   drop      ALTER TABLE DROP CONSTRAINT; ADD ... NOT VALID; VALIDATE CONSTRAINT
#   enforce   ALTER CONSTRAINT ... NOT ENFORCED; ALTER CONSTRAINT ... ENFORCED
# Prints the median and range of each (server time, from psql's \timing) and the
# ratio enforce/drop.
#
#   FKLOAD_PGBINDIR=/path/to/pg18/bin benches/enforce.sh [ROWS] [RUNS]
set -euo pipefail
rows=${1:-2000000}
runs=${2:-5}
bindir=${FKLOAD_PGBINDIR:?set FKLOAD_PGBINDIR to PostgreSQL 18 server binaries}
work=${FKLOAD_BENCH_WORK:-/tmp/fkload-bench}/enforce
port=${FKLOAD_BENCH_PORT:-55433}
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
rm -rf "$work" && mkdir -p "$work" && chmod 777 "$work"
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-p $port -k $work -c shared_buffers=1GB -c max_wal_size=4GB" start >/dev/null
trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null' EXIT
psql_q() { psql -X -q -h "$work" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
[ "$(psql_q -At -c 'SHOW server_version_num')" -ge 180000 ] || { echo "enforce.sh: needs PostgreSQL 18" >&2; exit 1; }
psql_q <<SQL
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL
    CONSTRAINT child_parent_fkey REFERENCES parent);
INSERT INTO parent SELECT generate_series(1, $rows);
INSERT INTO child SELECT g, g FROM generate_series(1, $rows) g;
VACUUM ANALYZE parent, child;
SQL
drop="BEGIN; ALTER TABLE child DROP CONSTRAINT child_parent_fkey;
ALTER TABLE child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
ALTER TABLE child VALIDATE CONSTRAINT child_parent_fkey; ROLLBACK;"
enforce="BEGIN; ALTER TABLE child ALTER CONSTRAINT child_parent_fkey NOT ENFORCED;
ALTER TABLE child ALTER CONSTRAINT child_parent_fkey ENFORCED; ROLLBACK;"
# The sum of the statements' times, in ms.
timed() { printf '\\timing on\n%s\n' "$1" | psql_q | awk '/^Time:/ {t += $2} END {printf "%.1f\n", t}'; }
: >"$work/drop" && : >"$work/enforce"
for _ in $(seq "$runs"); do
  timed "$drop" >>"$work/drop"
  timed "$enforce" >>"$work/enforce"
done
stat() { sort -n "$1" | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f %.0f %.0f\n", m, v[1], v[NR]}'; }
read -r dm dlo dhi < <(stat "$work/drop")
read -r em elo ehi < <(stat "$work/enforce")
version=$(psql_q -At -c 'SHOW server_version')
echo "| way ($rows rows, PostgreSQL $version, $runs runs) | median ms | range ms |"
echo "|---|---|---|"
echo "| drop, ADD NOT VALID, VALIDATE | $dm | $dlo-$dhi |"
echo "| NOT ENFORCED, ENFORCED | $em | $elo-$ehi |"
awk -v e="$em" -v d="$dm" 'BEGIN {printf "\nenforce/drop: %.2f\n", e / d}'
