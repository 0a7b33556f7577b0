#!/usr/bin/env bash
# End-to-end benchmark: fkload against the ways people load a CSV directory into
# PostgreSQL, on the same throwaway server, alternating, several runs each.
#
#   benches/run.sh [--scale SF] [--runs N] [--sets tpch,cycle,crossover]
#                  [--methods m1,m2,...] [--cycle-rows N] [--out FILE]
#
# Sets and methods:
#   tpch      TPC-H at scale SF (tpchgen-cli; 8 tables, the spec's 8 foreign keys)
#     fkload          fkload, default strategy (one transaction)
#     fkload_j2       fkload -j 2 (when the build has it)
#     fkload_gz       fkload of the same files gzip-compressed (gzip -6, once)
#     fkload_zst      fkload of the same files zstd-compressed (zstd -3, once)
#     copy_then_keys  the limit: psql -1, \copy into tables with primary keys only,
#                     then ALTER TABLE ... ADD FOREIGN KEY for each key
#     psql            by hand: psql -1, \copy parent-first with the keys in place
#     pgloader        pgloader, one CSV load per table, parent-first, keys in place
#     restore_1       pg_restore --single-transaction of a dump of the loaded database
#     restore_j2      pg_restore --jobs 2 of the same dump
#   cycle     two tables of N rows referencing each other with NOT NULL keys
#     fkload          fkload (plain keys)
#     fkload_deferrable  fkload on DEFERRABLE keys
#     by_hand         drop both keys, \copy both, ADD ... NOT VALID, VALIDATE
#     deferred        DEFERRABLE keys, SET CONSTRAINTS ALL DEFERRED, \copy both
#   crossover fkload --strategy keep against --strategy revalidate on TPC-H at
#             scale factors 0.002 .. 0.1, to place the automatic choice
#
# Prints a Markdown table (median and range of wall time, MB/s of CSV, the ratio
# of fkload's median to each, client CPU and peak memory from /usr/bin/time) and
# appends it to --out. Needs: PostgreSQL server binaries, psql, pg_dump,
# pg_restore, /usr/bin/time; installs tpchgen-cli (cargo) and pgloader (apt,
# when root) if missing. Work files go to $FKLOAD_BENCH_WORK (/tmp/fkload-bench).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
scale=1
runs=3
sets=tpch,cycle
methods=all
cycle_rows=1000000
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --sets) sets=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --cycle-rows) cycle_rows=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: see the head of $0" >&2; exit 1 ;;
  esac
done

work=${FKLOAD_BENCH_WORK:-/tmp/fkload-bench}
port=${FKLOAD_BENCH_PORT:-55432}
mkdir -p "$work"
chmod 755 "$work"
results="$work/results.$$.csv"
: >"$results"

say() { echo "bench: $*" >&2; }
want() { [ "$methods" = all ] || [[ ",$methods," == *",$1,"* ]]; }
has_set() { [[ ",$sets," == *",$1,"* ]]; }

# --- tools ------------------------------------------------------------------
bindir=${FKLOAD_PGBINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bindir/initdb" ] || { echo "bench: no PostgreSQL server binaries (set FKLOAD_PGBINDIR)" >&2; exit 1; }
PATH="$bindir:$HOME/.cargo/bin:$PATH"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
if ! command -v tpchgen-cli >/dev/null; then
  say "installing tpchgen-cli (cargo install, once)"
  cargo install --quiet --locked tpchgen-cli
fi
if want pgloader && has_set tpch && ! command -v pgloader >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing pgloader (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null || true
fi
say "building fkload (release)"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
fkload="$repo/target/release/fkload"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# --- server -----------------------------------------------------------------
pgdata="$work/pgdata"
stop_server() { as_pg pg_ctl -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; }
stop_server
rm -rf "$pgdata"
mkdir -p "$pgdata"
[ "$(id -u)" = 0 ] && chown postgres: "$pgdata"
as_pg initdb -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
as_pg pg_ctl -D "$pgdata" -w -l "$pgdata/server.log" -o "-p $port -k $pgdata \
  -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_wal_size=16GB \
  -c checkpoint_timeout=1h -c maintenance_work_mem=512MB -c work_mem=64MB" start >/dev/null
trap stop_server EXIT
# Every client (psql, pg_dump, pg_restore, fkload) finds the server through the
# libpq environment.
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
unset PGDATABASE PGPASSWORD DATABASE_URL
url_of() { echo "postgres://postgres@127.0.0.1:$port/$1"; }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
export -f psql_q url_of
export work

fresh_db() { # fresh_db NAME [sql files...]
  local db=$1; shift
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  for f in "$@"; do psql_q -d "$db" -f "$f" >/dev/null; done
  psql_q -d postgres -c "CHECKPOINT"
}

# timed SET METHOD RUN BYTES 'shell command' : wall, user, sys and peak memory of
# the command and its children (bash's own share is negligible).
timed() {
  local set=$1 method=$2 run=$3 bytes=$4; shift 4
  local tf="$work/time.$$"
  if ! /usr/bin/time -f "%e %U %S %M" -o "$tf" bash -c "$1" >"$work/last.out" 2>&1; then
    say "$set/$method run $run FAILED:"; tail -n 20 "$work/last.out" >&2; exit 1
  fi
  read -r wall user sys rss <"$tf"
  echo "$set,$method,$run,$wall,$user,$sys,$rss,$bytes" >>"$results"
  say "$set/$method run $run: ${wall}s (cpu ${user}+${sys}s, ${rss} KB)"
}

dir_bytes() { du -cb "$1"/*.csv | tail -n 1 | cut -f1; }

# verify DB TABLE FILE: a baseline that loaded less than the file is no baseline.
verify() {
  local got want
  got=$(psql -X -At -d "$1" -c "SELECT count(*) FROM $2")
  want=$(($(wc -l <"$3") - 1))
  if [ "$got" != "$want" ]; then
    say "$1: $2 has $got rows, $3 has $want"; exit 1
  fi
}

# --- TPC-H -------------------------------------------------------------------
tpch_tables=(region nation part supplier partsupp customer orders lineitem)

gen_tpch() { # gen_tpch SF DIR
  if [ ! -f "$2/.done" ]; then
    say "generating TPC-H scale factor $1 in $2"
    rm -rf "$2"; mkdir -p "$2"
    tpchgen-cli csv -s "$1" --output-dir="$2" >/dev/null
    touch "$2/.done"
  fi
}

gen_compressed() { # gen_compressed DIR OUT SUFFIX COMMAND... : each .csv compressed
  if [ ! -f "$2/.done" ]; then
    say "compressing $1 into $2 ($3)"
    rm -rf "$2"; mkdir -p "$2"
    for f in "$1"/*.csv; do "${@:4}" <"$f" >"$2/$(basename "$f").$3"; done
    touch "$2/.done"
  fi
}

copy_script() { # copy_script DIR [keys.sql] : \copy every table parent-first
  for t in "${tpch_tables[@]}"; do
    echo "\\copy $t FROM '$1/$t.csv' WITH (FORMAT csv, HEADER true)"
  done
  [ $# -gt 1 ] && cat "$2"
  return 0
}

pgloader_all() { # pgloader_all DB DIR
  for t in $tpch_tables_list; do
    pgloader --quiet --type csv --with "skip header = 1" --with "fields terminated by ','" \
      --with "fields optionally enclosed by '\"'" --with "fields escaped by double-quote" \
      "$2/$t.csv" "$(url_of "$1")?tablename=$t" || return 1
  done
}

export -f pgloader_all
export tpch_tables_list="${tpch_tables[*]}"

run_tpch() {
  local data="$work/tpch-sf$scale"
  gen_tpch "$scale" "$data"
  local bytes; bytes=$(dir_bytes "$data")
  local tables="$here/tpch/tables.sql" keys="$here/tpch/keys.sql"
  copy_script "$data" "$keys" >"$work/copy_then_keys.sql"
  copy_script "$data" >"$work/copy.sql"
  # The dump pg_restore restores: the same data, loaded once.
  if want restore_1 || want restore_j2; then
    fresh_db bench_source "$tables" "$keys"
    "$fkload" -q -d bench_source "$data"
    pg_dump -Fc -Z0 -f "$work/tpch.dump" bench_source
  fi
  local j2=0
  if "$fkload" "-?" 2>/dev/null | grep -q -- "--jobs"; then j2=1; fi
  if want fkload_gz; then gen_compressed "$data" "$data-gz" gz gzip -6 -c; fi
  if want fkload_zst; then gen_compressed "$data" "$data-zst" zst zstd -q -3 -c; fi
  for run in $(seq 1 "$runs"); do
    if want fkload; then
      fresh_db b_fk "$tables" "$keys"
      timed tpch fkload "$run" "$bytes" "\"$fkload\" -q -d b_fk \"$data\""
      verify b_fk lineitem "$data/lineitem.csv"
    fi
    if want fkload_j2 && [ "$j2" = 1 ]; then
      fresh_db b_fkj "$tables" "$keys"
      timed tpch fkload_j2 "$run" "$bytes" "\"$fkload\" -q -j 2 -d b_fkj \"$data\""
      verify b_fkj lineitem "$data/lineitem.csv"
    fi
    for c in gz zst; do
      if want "fkload_$c"; then
        fresh_db "b_fk$c" "$tables" "$keys"
        timed tpch "fkload_$c" "$run" "$bytes" "\"$fkload\" -q -d b_fk$c \"$data-$c\""
        verify "b_fk$c" lineitem "$data/lineitem.csv"
      fi
    done
    if want copy_then_keys; then
      fresh_db b_limit "$tables"
      timed tpch copy_then_keys "$run" "$bytes" "psql_q -1 -d b_limit -f \"$work/copy_then_keys.sql\""
      verify b_limit lineitem "$data/lineitem.csv"
    fi
    if want restore_1; then
      fresh_db b_r1
      timed tpch restore_1 "$run" "$bytes" "pg_restore --single-transaction -d b_r1 \"$work/tpch.dump\""
      verify b_r1 lineitem "$data/lineitem.csv"
    fi
    if want restore_j2; then
      fresh_db b_r2
      timed tpch restore_j2 "$run" "$bytes" "pg_restore --jobs 2 -d b_r2 \"$work/tpch.dump\""
      verify b_r2 lineitem "$data/lineitem.csv"
    fi
    if want psql; then
      fresh_db b_psql "$tables" "$keys"
      timed tpch psql "$run" "$bytes" "psql_q -1 -d b_psql -f \"$work/copy.sql\""
      verify b_psql lineitem "$data/lineitem.csv"
    fi
    if want pgloader && command -v pgloader >/dev/null; then
      fresh_db b_pgl "$tables" "$keys"
      timed tpch pgloader "$run" "$bytes" "pgloader_all b_pgl \"$data\""
      verify b_pgl lineitem "$data/lineitem.csv"
    fi
  done
}

# --- cycle -------------------------------------------------------------------
run_cycle() {
  local n=$cycle_rows data="$work/cycle-$cycle_rows"
  if [ ! -f "$data/.done" ]; then
    say "generating the cycle set, $n rows per table"
    rm -rf "$data"; mkdir -p "$data"
    # owner_id and account_id are permutations of 1..n (7919 is prime to n
    # unless n is a multiple of it), so every key finds its row.
    awk -v n="$n" 'BEGIN { print "id,owner_id,name"; for (i = 1; i <= n; i++)
      printf "%d,%d,account %d\n", i, (i * 7919) % n + 1, i }' >"$data/account.csv"
    awk -v n="$n" 'BEGIN { print "id,account_id,name"; for (i = 1; i <= n; i++)
      printf "%d,%d,\"person, %d\"\n", i, (i * 104729) % n + 1, i }' >"$data/person.csv"
    touch "$data/.done"
  fi
  local bytes; bytes=$(dir_bytes "$data")
  local tables="$here/cycle/tables.sql"
  # By hand, the fast way: both keys dropped, both files copied, both keys added
  # back NOT VALID and validated.
  cat >"$work/cycle_by_hand.sql" <<SQL
ALTER TABLE account DROP CONSTRAINT account_owner_fk;
ALTER TABLE person DROP CONSTRAINT person_account_fk;
\\copy account FROM '$data/account.csv' WITH (FORMAT csv, HEADER true)
\\copy person FROM '$data/person.csv' WITH (FORMAT csv, HEADER true)
ALTER TABLE account ADD CONSTRAINT account_owner_fk FOREIGN KEY (owner_id) REFERENCES person NOT VALID;
ALTER TABLE person ADD CONSTRAINT person_account_fk FOREIGN KEY (account_id) REFERENCES account NOT VALID;
ALTER TABLE account VALIDATE CONSTRAINT account_owner_fk;
ALTER TABLE person VALIDATE CONSTRAINT person_account_fk;
SQL
  cat >"$work/cycle_deferred.sql" <<SQL
SET CONSTRAINTS ALL DEFERRED;
\\copy account FROM '$data/account.csv' WITH (FORMAT csv, HEADER true)
\\copy person FROM '$data/person.csv' WITH (FORMAT csv, HEADER true)
SQL
  for run in $(seq 1 "$runs"); do
    if want fkload; then
      fresh_db c_fk "$tables" "$here/cycle/keys.sql"
      timed cycle fkload "$run" "$bytes" "\"$fkload\" -q -d c_fk \"$data\""
      verify c_fk person "$data/person.csv"
    fi
    if want fkload_deferrable; then
      fresh_db c_fkd "$tables" "$here/cycle/keys_deferrable.sql"
      timed cycle fkload_deferrable "$run" "$bytes" "\"$fkload\" -q -d c_fkd \"$data\""
      verify c_fkd person "$data/person.csv"
    fi
    if want by_hand; then
      fresh_db c_hand "$tables" "$here/cycle/keys.sql"
      timed cycle by_hand "$run" "$bytes" "psql_q -1 -d c_hand -f \"$work/cycle_by_hand.sql\""
      verify c_hand person "$data/person.csv"
    fi
    if want deferred; then
      fresh_db c_def "$tables" "$here/cycle/keys_deferrable.sql"
      timed cycle deferred "$run" "$bytes" "psql_q -1 -d c_def -f \"$work/cycle_deferred.sql\""
      verify c_def person "$data/person.csv"
    fi
  done
}

# --- crossover -----------------------------------------------------------------
# keep against revalidate, from a few hundred kilobytes to 100 MB: the real sample
# databases of ../shared/datasets where present, then TPC-H (tpchgen-cli repeats
# partsupp keys below scale factor 0.01, so it starts there).
crossover_one() { # crossover_one LABEL DATA_DIR SCHEMA_FILES...
  local label=$1 data=$2; shift 2
  local bytes; bytes=$(dir_bytes "$data")
  for run in $(seq 1 "$runs"); do
    for strategy in keep revalidate; do
      fresh_db x_fk "$@"
      timed "crossover-$label" "$strategy" "$run" "$bytes" \
        "\"$fkload\" -q --strategy $strategy -d x_fk \"$data\""
    done
  done
}

run_crossover() {
  local shared="$repo/../shared/datasets"
  for ds in northwind chinook pagila adventureworks; do
    [ -d "$shared/$ds" ] || continue
    grep -v '^\\' "$shared/$ds/schema.sql" >"$work/$ds.sql"
    crossover_one "$ds" "$shared/$ds/data" "$work/$ds.sql"
  done
  for sf in 0.01 0.02 0.05 0.1; do
    gen_tpch "$sf" "$work/tpch-sf$sf"
    crossover_one "tpch-sf$sf" "$work/tpch-sf$sf" "$here/tpch/tables.sql" "$here/tpch/keys.sql"
  done
}

has_set tpch && run_tpch
has_set cycle && run_cycle
has_set crossover && run_crossover

# --- report ------------------------------------------------------------------
report=$(python3 - "$results" "$scale" "$runs" <<'PY'
import csv, statistics, sys, platform, subprocess, datetime, os
path, scale, runs = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.reader(open(path)))
by = {}
for s, m, r, wall, user, sys_, rss, b in rows:
    by.setdefault(s, {}).setdefault(m, []).append((float(wall), float(user) + float(sys_), int(rss), int(b)))
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
ver = subprocess.run(["sh", "-c", "postgres --version"], capture_output=True, text=True).stdout.strip()
sets = ", ".join(by)
sf = f"TPC-H scale factor {scale}, " if "tpch" in by else ""
print(f"### {datetime.date.today()}: {sets}; {sf}{runs} runs each; {os.cpu_count()} cores, {cpu}, 24 GiB; {ver}\n")
for s, methods in by.items():
    base = "fkload" if "fkload" in methods else ("revalidate" if "revalidate" in methods else None)
    fk = statistics.median(w for w, *_ in methods[base]) if base else None
    mb = methods[next(iter(methods))][0][3] / 1e6
    print(f"**{s}** ({mb:.2f} MB of CSV)\n")
    print(f"| method | median s | range s | MB/s | {base} / method | client CPU % of wall | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, v in methods.items():
        walls = [w for w, *_ in v]
        med = statistics.median(walls)
        cpu_pct = statistics.median(c / w * 100 for w, c, _, _ in v)
        rss = max(r for *_, r, _ in v) / 1024
        ratio = f"{fk / med:.2f}" if fk else "-"
        print(f"| {m} | {med:.2f} | {min(walls):.2f}-{max(walls):.2f} | {mb / med:.1f} | {ratio} | {cpu_pct:.1f} | {rss:.1f} |")
    print()
PY
)
echo "$report"
[ -n "$out" ] && printf '%s\n' "$report" >>"$out"
rm -f "$results"
