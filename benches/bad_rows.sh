#!/usr/bin/env bash
# What going around bad rows costs: `fkload check` and `fkload --on-error skip`
# on TPC-H lineitem with 0.1 % and 10 % bad rows of mixed kinds, against a clean
# load of the same file, in one run. On a throwaway server, lineitem (TPC-H's
# table, its primary key, plus CHECK (l_discount >= 0)) gets, R times,
# alternating, each into the emptied table (a checkpoint first):
#   load_clean    fkload --truncate DIR/clean (the baseline)
#   check_clean   fkload check DIR/clean
#   check_p01     fkload check DIR/p01  (exit 1: every refused row named)
#   skip_p01      fkload --truncate --on-error skip DIR/p01
#   check_p10, skip_p10   the same with 10 %
#   skip_t01, skip_t10    skip with 0.1 % and 10 % bad rows of the three kinds
#                 a column's type refuses only (which PostgreSQL 17 and later
#                 skip inside the COPY)
# The bad rows are spread evenly, the kinds taken in turn: a quantity that is
# not a number, a date that does not exist (02-30), a return flag too long for
# char(1), a NULL in the NOT NULL l_partkey, a negative discount (the CHECK), a
# field too many. Each skip run's rows loaded and rows set aside (the reject
# file's records) are checked against the file's. fkload's wall time and peak
# RSS come from /usr/bin/time. Prints medians and ranges, and each run's ratio
# to load_clean's median.
#
#   benches/bad_rows.sh [SF] [RUNS]          (defaults 0.1 and 3)
#
# FKLOAD_PGBINDIR: server binaries (default /usr/lib/postgresql/15/bin);
# FKLOAD_BIN: the fkload binary (default target/release/fkload, copied to the
# work directory first); FKLOAD_BENCH_WORK (/tmp/fkload-bench; this script
# uses its bad_rows/ and tpch-SF/, lineitem only), FKLOAD_BENCH_PORT (55435; Unix socket
# only). Needs tpchgen-cli (cargo install tpchgen-cli) and /usr/bin/time.
set -euo pipefail
sf=${1:-0.1}
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bindir=${FKLOAD_PGBINDIR:-/usr/lib/postgresql/15/bin}
base=${FKLOAD_BENCH_WORK:-/tmp/fkload-bench}
work=$base/bad_rows
port=${FKLOAD_BENCH_PORT:-55435}
bin=${FKLOAD_BIN:-$here/../target/release/fkload}
[ -x "$bin" ] || { echo "bad_rows.sh: no fkload at $bin (cargo build --release)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bad_rows.sh: /usr/bin/time is missing" >&2; exit 1; }
command -v tpchgen-cli >/dev/null || { echo "bad_rows.sh: tpchgen-cli is missing (cargo install tpchgen-cli)" >&2; exit 1; }
say() { echo "bad_rows: $*" >&2; }
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)

# --- data --------------------------------------------------------------------
tpch=$base/tpch-$sf
if [ ! -f "$tpch/.done" ]; then
  say "generating TPC-H scale factor $sf in $tpch"
  rm -rf "$tpch"; mkdir -p "$tpch"
  tpchgen-cli csv -s "$sf" --tables lineitem --output-dir="$tpch" >/dev/null
  touch "$tpch/.done"
fi
rm -rf "$work" && mkdir -p "$work" && chmod 777 "$work"
cp "$bin" "$work/fkload"
fkload="$work/fkload"
mkdir -p "$work/clean"
ln -s "$tpch/lineitem.csv" "$work/clean/lineitem.csv"
rows=$(($(wc -l <"$tpch/lineitem.csv") - 1))
# make_bad EVERY DIR [KINDS]: every EVERY-th row made bad, the first KINDS
# (default 6) kinds in turn.
make_bad() {
  mkdir -p "$2"
  awk -F, -v OFS=, -v every="$1" -v kinds="${3:-6}" 'NR == 1 { print; next }
    (NR - 1) % every == 0 {
      k = ((NR - 1) / every) % kinds
      if (k == 0) $5 = "x"
      else if (k == 1) $11 = "1995-02-30"
      else if (k == 2) $9 = "RR"
      else if (k == 3) $2 = ""
      else if (k == 4) $7 = "-0.05"
      else $0 = $0 ",extra"
      bad++
    }
    { print }
    END { print bad > "/dev/stderr" }' "$tpch/lineitem.csv" >"$2/lineitem.csv" 2>"$2/.bad"
}
make_bad 1000 "$work/p01"
make_bad 10 "$work/p10"
make_bad 1000 "$work/t01" 3
make_bad 10 "$work/t10" 3
say "lineitem: $rows rows, $(du -h "$tpch/lineitem.csv" | cut -f1); bad rows: $(cat "$work/p01/.bad") (p01), $(cat "$work/p10/.bad") (p10)"

# --- server ------------------------------------------------------------------
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-p $port -k $work \
  -c listen_addresses= -c shared_buffers=1GB -c max_wal_size=16GB -c checkpoint_timeout=1h \
  -c maintenance_work_mem=512MB -c work_mem=64MB" start >/dev/null
trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null' EXIT
psql_q() { psql -X -q -h "$work" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_q -d postgres -c "CREATE DATABASE bench"
psql_q -d bench -f <(sed -n '/CREATE TABLE lineitem/,/^);/p' "$here/tpch/tables.sql")
psql_q -d bench -c "ALTER TABLE lineitem ADD CHECK (l_discount >= 0)"
conn=(-h "$work" -p "$port" -U postgres -d bench)

# --- runs --------------------------------------------------------------------
methods=(load_clean check_clean check_p01 skip_p01 check_p10 skip_p10 skip_t01 skip_t10)
results=$work/results
: >"$results"
run() { # run METHOD
  local m=$1 dir args=() expect=0
  case $m in
    load_clean) dir=clean; args=(--truncate) ;;
    check_clean) dir=clean; args=(check) ;;
    check_p01) dir=p01; args=(check); expect=1 ;;
    check_p10) dir=p10; args=(check); expect=1 ;;
    skip_p01) dir=p01; args=(--truncate --on-error skip --reject-dir "$work/rej_$m") ;;
    skip_p10) dir=p10; args=(--truncate --on-error skip --reject-dir "$work/rej_$m") ;;
    skip_t01) dir=t01; args=(--truncate --on-error skip --reject-dir "$work/rej_$m") ;;
    skip_t10) dir=t10; args=(--truncate --on-error skip --reject-dir "$work/rej_$m") ;;
  esac
  psql_q -d bench -c "TRUNCATE lineitem" -c "CHECKPOINT"
  rm -rf "$work/rej_$m"
  local code=0
  /usr/bin/time -f "%e %M" -o "$work/time" "$fkload" "${conn[@]}" -q "${args[@]}" "$work/$dir" \
    >"$work/out" 2>"$work/err" || code=$?
  if [ "$code" != "$expect" ]; then
    say "$m exited $code, not $expect:"; cat "$work/err" >&2; exit 1
  fi
  if [ "${m%%_*}" = skip ]; then
    local bad loaded set_aside
    bad=$(cat "$work/$dir/.bad")
    loaded=$(psql_q -d bench -Atc "SELECT count(*) FROM lineitem")
    # The reject file's records: its rows but the header (no quoted line ends here).
    set_aside=$(($(wc -l <"$work/rej_$m/lineitem.rejects.csv") - 1))
    if [ "$loaded" != $((rows - bad)) ] || [ "$set_aside" != "$bad" ]; then
      say "$m: loaded $loaded (expected $((rows - bad))), set aside $set_aside (expected $bad)"; exit 1
    fi
  elif [ "$m" = load_clean ]; then
    local loaded
    loaded=$(psql_q -d bench -Atc "SELECT count(*) FROM lineitem")
    [ "$loaded" = "$rows" ] || { say "load_clean loaded $loaded, not $rows"; exit 1; }
  fi
  read -r secs rss < <(tail -n 1 "$work/time")
  echo "$m $secs $rss" >>"$results"
}
for r in $(seq 1 "$runs"); do
  for m in "${methods[@]}"; do
    run "$m"
  done
  say "run $r of $runs done"
done

# --- report ------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
base_median=$(awk '$1 == "load_clean" { print $2 }' "$results" | median)
echo "lineitem SF $sf: $rows rows; PostgreSQL $("$bindir/postgres" --version | awk '{ print $3 }'); $runs runs"
printf '%-12s %9s %15s %9s %10s\n' method median range "x clean" "peak RSS"
for m in "${methods[@]}"; do
  med=$(awk -v m="$m" '$1 == m { print $2 }' "$results" | median)
  lo=$(awk -v m="$m" '$1 == m { print $2 }' "$results" | sort -g | head -n 1)
  hi=$(awk -v m="$m" '$1 == m { print $2 }' "$results" | sort -g | tail -n 1)
  rss=$(awk -v m="$m" '$1 == m { print $3 }' "$results" | sort -g | tail -n 1)
  printf '%-12s %8.2fs %15s %9.2f %8d MB\n' "$m" "$med" "$lo-$hi" \
    "$(echo "$med / $base_median" | bc -l)" $((rss / 1024))
done
