#!/usr/bin/env bash
# fkload on Citus: TPC-H at scale SF on a coordinator and two workers on this
# machine (reference tables: region, nation, part, supplier, partsupp,
# customer; orders and lineitem distributed on the order key, colocated; the
# specification's 8 foreign keys). Measures, in one run, medians of RUNS:
#   keep        fkload --strategy keep
#   revalidate  fkload --strategy revalidate
#   copy        psql \copy of every file into the same tables without keys
#               (the keys are dropped first and added back untimed)
# and prints keep / revalidate and fkload / copy. Every fkload run is checked:
# every table holds its file's rows.
#
# Usage: benches/citus.sh [SF] [RUNS]      (defaults 0.1 and 3)
# Needs Citus installed for PostgreSQL 15 (../shared/citus/build.sh) and
# tpchgen-cli (installed with cargo when missing). Work files go to
# $FKLOAD_BENCH_WORK/citus (default /tmp/fkload-bench/citus).
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${1:-0.1}
runs=${2:-3}
bindir=/usr/lib/postgresql/15/bin
[ -f /usr/lib/postgresql/15/lib/citus.so ] || {
  echo "citus.sh: Citus is not installed for PostgreSQL 15 (see ../shared/citus/build.sh)" >&2
  exit 1
}
work=${FKLOAD_BENCH_WORK:-/tmp/fkload-bench}/citus
say() { echo "citus.sh: $*" >&2; }
export PGOPTIONS="-c client_min_messages=warning"
command -v tpchgen-cli >/dev/null || cargo install --quiet --locked tpchgen-cli
cargo build --quiet --release
fk=$PWD/target/release/fkload

data=$work/tpch-sf$sf
if [ ! -f "$data/.done" ]; then
  say "generating TPC-H scale factor $sf"
  rm -rf "$data" && mkdir -p "$data"
  tpchgen-cli csv -s "$sf" --output-dir="$data" >/dev/null
  touch "$data/.done"
fi

# Three servers, each on its own port and socket directory, as postgres when root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ports=(55441 55442 55443)
nodes=()
cleanup() {
  for n in ${nodes[@]+"${nodes[@]}"}; do as_pg "$bindir/pg_ctl" -D "$n" -m immediate stop >/dev/null 2>&1 || :; done
}
trap cleanup EXIT
rm -rf "$work/nodes" && mkdir -p "$work/nodes"
[ "$(id -u)" = 0 ] && chown postgres: "$work/nodes" && chmod a+rx "$work" "$work/nodes"
for port in "${ports[@]}"; do
  dir=$work/nodes/$port
  as_pg "$bindir/initdb" -D "$dir" -U postgres --auth=trust --no-sync >/dev/null
  as_pg "$bindir/pg_ctl" -D "$dir" -w -l "$dir/log" \
    -o "-p $port -k $work/nodes -c listen_addresses=127.0.0.1 -c shared_preload_libraries=citus \
        -c max_worker_processes=64 -c shared_buffers=1GB -c max_wal_size=8GB -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  nodes+=("$dir")
done
url() { echo "postgres://postgres@127.0.0.1:$1/bench"; }
coord=$(url "${ports[0]}")
for port in "${ports[@]}"; do
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE bench"
  psql -X -q "$(url "$port")" -c "CREATE EXTENSION citus"
done
q() { psql -X -q -v ON_ERROR_STOP=1 "$coord" "$@"; }
q -c "SELECT citus_set_coordinator_host('127.0.0.1', ${ports[0]})" >/dev/null
for port in "${ports[@]:1}"; do q -c "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null; done
q -f benches/tpch/tables.sql
for t in region nation part supplier partsupp customer; do
  q -c "SELECT create_reference_table('$t')" >/dev/null
done
q -c "SELECT create_distributed_table('orders', 'o_orderkey')" >/dev/null
q -c "SELECT create_distributed_table('lineitem', 'l_orderkey', colocate_with => 'orders')" >/dev/null
keys() { grep -v '^--' benches/tpch/keys.sql | tr '\n' ' ' | tr ';' '\n' | sed '/^ *$/d'; }
add_keys() { keys | while read -r k; do q -c "$k"; done; }
drop_keys() {
  keys | sed -n 's/.*ALTER TABLE \([a-z]*\) ADD CONSTRAINT \([a-z_]*\).*/ALTER TABLE \1 DROP CONSTRAINT \2/p' |
    while read -r k; do q -c "$k"; done
}
add_keys
tables=(region nation part supplier partsupp customer orders lineitem)
empty() { q -c "TRUNCATE $(IFS=,; echo "${tables[*]}")"; }
for t in "${tables[@]}"; do
  echo "\\copy $t FROM '$data/$t.csv' WITH (FORMAT csv, HEADER true)"
done >"$work/copy.sql"
check_rows() {
  for t in "${tables[@]}"; do
    got=$(psql -X -At "$coord" -c "SELECT count(*) FROM $t")
    want=$(($(wc -l <"$data/$t.csv") - 1))
    [ "$got" = "$want" ] || { say "$t has $got rows, its file $want"; exit 1; }
  done
}
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A times
for run in $(seq "$runs"); do
  for method in keep revalidate copy; do
    empty
    case $method in
      keep | revalidate)
        t0=$(now)
        "$fk" -q -d "$coord" --strategy "$method" "$data" >/dev/null
        t1=$(now)
        check_rows
        ;;
      copy)
        drop_keys
        t0=$(now)
        q -f "$work/copy.sql" >/dev/null
        t1=$(now)
        check_rows
        add_keys
        ;;
    esac
    times[$method]+="$(echo "$t1 - $t0" | bc) "
    say "run $run $method: $(echo "$t1 - $t0" | bc) s"
  done
done
m() { echo "${times[$1]}" | tr ' ' '\n' | sed '/^$/d' | median; }
keep=$(m keep)
reval=$(m revalidate)
copy=$(m copy)
bytes=$(du -cb "$data"/*.csv | tail -n 1 | cut -f1)
echo "TPC-H SF $sf ($bytes bytes of CSV) on Citus $(psql -X -At "$coord" -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), coordinator + 2 workers, medians of $runs"
printf 'keep %.2f s, revalidate %.2f s, copy without keys %.2f s\n' "$keep" "$reval" "$copy"
printf 'keep / revalidate = %.2f\n' "$(echo "$keep / $reval" | bc -l)"
printf 'revalidate / copy = %.2f\n' "$(echo "$reval / $copy" | bc -l)"
printf 'keep / copy = %.2f\n' "$(echo "$keep / $copy" | bc -l)"
