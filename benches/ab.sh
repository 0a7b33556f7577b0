#!/usr/bin/env bash
# A/B of two fkload builds on the same data and server: a change's cost.
#
#   benches/ab.sh OLD_FKLOAD NEW_FKLOAD [RUNS] [-- fkload options]
#
# Generates 2M rows (145 MB) of a lineitem-like table with a foreign key to
# a 1000-row parent, starts a throwaway server in /dev/shm (or $TMPDIR), and
# loads the file RUNS times (default 3) with each build, alternating, into the
# emptied table after a checkpoint; prints each time and the medians' ratio.
# Run as root (the server runs as postgres) or as the server's owner.
set -euo pipefail
old=$1 new=$2 runs=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
bin=${FKLOAD_PGBINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
work=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/fkload-ab.XXXX")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"
mkdir -p "$work/data"
python3 - "$work/data/line.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("id,order_id,part,qty,price,disc,flag,ship,comment\n")
    for i in range(1, 2_000_001):
        f.write(f"{i},{random.randint(1,1000)},{random.randint(1,20000)},{random.randint(1,50)},"
                f"{random.randint(100,99999)/100},{random.randint(0,10)/100},{random.choice('ANR')},"
                f"2024-0{random.randint(1,9)}-1{random.randint(0,9)},\"{'x'*random.randint(5,40)}, y\"\n")
PY
as_pg "$bin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$work/pg" -l "$work/log" \
  -o "-k $work -p 5499 -c listen_addresses= -c shared_buffers=512MB -c max_wal_size=8GB" start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$work/pg" stop -m fast >/dev/null; rm -rf "$work"' EXIT
sql() { "$bin/psql" -h "$work" -p 5499 -U postgres -d ab -qX "$@"; }
"$bin/psql" -h "$work" -p 5499 -U postgres -qXc "CREATE DATABASE ab"
sql <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY);
INSERT INTO orders SELECT generate_series(1, 1000);
CREATE TABLE line (id bigint PRIMARY KEY, order_id int NOT NULL REFERENCES orders, part int,
  qty int, price numeric(12,2), disc numeric(4,2), flag char(1), ship date, comment text);
SQL
declare -A times
for i in $(seq "$runs"); do
  for which in old new; do
    exe=$old; [ "$which" = new ] && exe=$new
    sql -c "TRUNCATE line" -c "CHECKPOINT"
    start=$(date +%s.%N)
    "$exe" -h "$work" -p 5499 -U postgres -d ab "$@" "$work/data" >/dev/null
    t=$(echo "$(date +%s.%N) - $start" | bc)
    [ "$(sql -tAc 'SELECT count(*) FROM line')" = 2000000 ] || { echo "$which: wrong row count" >&2; exit 1; }
    echo "$which run $i: ${t}s"
    times[$which]="${times[$which]:-} $t"
  done
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${times[old]}") mn=$(median "${times[new]}")
echo "median old ${mo}s, new ${mn}s, new/old $(echo "scale=2; $mn / $mo" | bc)"
