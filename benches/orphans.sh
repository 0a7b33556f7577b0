#!/usr/bin/env bash
# What finding every orphan costs: `fkload check` and a failing load on a child
# file of N rows, half of them orphans, against one validating pass over the same
# rows (ALTER TABLE ... VALIDATE CONSTRAINT). On a throwaway server, a child of N
# rows references a parent of N/2; three data directories are generated once:
#   clean   every child row has its parent
#   many    child rows N/2+1..N reference missing parents (N/2 orphans, N/2
#           distinct missing keys)
#   few     10 orphans
# Then R times, alternating, each into empty tables (truncated, checkpoint first):
#   validate      baseline: the clean rows loaded by plain COPY, the key dropped;
#                 BEGIN; ADD ... NOT VALID; VALIDATE CONSTRAINT; ROLLBACK (server
#                 time of VALIDATE, psql's \timing)
#   copy_temp     baseline: \copy of child.csv into a temporary table of text
#                 columns with a row counter as src/orphan.rs makes it (what the
#                 search re-reads)
#   check_clean, check_many, check_few   fkload check DIR (exit 0, 1, 1)
#   load_many     fkload DIR, default policy (fails: exit 3)
#   skip_many     fkload --on-orphan skip --reject-dir ... DIR (exit 0; N/2 rows
#                 loaded and N/2 rejected, checked; the tables are truncated after)
# fkload's wall time and peak RSS come from /usr/bin/time, with its stderr line
# count. The server logs every statement's duration (log_min_duration_statement=0,
# $work/log; each run's share is kept in $work/MEASURE.log), from which each
# fkload run's server time is split by phase (phases, below): the data's COPY,
# the index builds, the key check, and the search's copy of the file into a
# temporary table, its anti-join and its reads of counts and examples. Prints
# medians and ranges, and: search = check_many - check_clean (median of the
# per-run differences) and the server time of the search's statements, their
# ratios to VALIDATE, and the RSS of check_many against check_few.
#
#   benches/orphans.sh [ROWS] [RUNS]          (defaults 1000000 and 3)
#
# FKLOAD_PGBINDIR: server binaries (default /usr/lib/postgresql/15/bin);
# FKLOAD_BIN: the fkload binary (default target/release/fkload, copied to the
# work directory first so that a rebuild during the run changes nothing);
# FKLOAD_BENCH_WORK (/tmp/fkload-bench; this script uses its orphans/),
# FKLOAD_BENCH_PORT (55434; Unix socket only).
set -euo pipefail
rows=${1:-1000000}
runs=${2:-3}
half=$((rows / 2))
[ "$rows" -ge 40 ] || { echo "orphans.sh: ROWS must be at least 40" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
bindir=${FKLOAD_PGBINDIR:-/usr/lib/postgresql/15/bin}
work=${FKLOAD_BENCH_WORK:-/tmp/fkload-bench}/orphans
port=${FKLOAD_BENCH_PORT:-55434}
bin=${FKLOAD_BIN:-$here/../target/release/fkload}
[ -x "$bin" ] || { echo "orphans.sh: no fkload at $bin (cargo build --release)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "orphans.sh: /usr/bin/time is missing" >&2; exit 1; }
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
rm -rf "$work" && mkdir -p "$work" && chmod 777 "$work"
cp "$bin" "$work/fkload"
fkload="$work/fkload"
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-p $port -k $work \
  -c listen_addresses= -c shared_buffers=1GB -c max_wal_size=16GB -c checkpoint_timeout=1h \
  -c maintenance_work_mem=512MB -c work_mem=64MB -c log_min_duration_statement=0" start >/dev/null
trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null' EXIT
psql_q() { psql -X -q -h "$work" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
conn="host=$work port=$port user=postgres dbname=bench"
say() { echo "orphans: $*" >&2; }

# --- data --------------------------------------------------------------------
for d in clean many few; do
  mkdir -p "$work/$d"
  seq 1 "$half" | sed '1i id' >"$work/$d/parent.csv"
done
awk -v n="$rows" -v h="$half" 'BEGIN {
  print "id,parent_id" > (c = ARGV[1] "/clean/child.csv")
  print "id,parent_id" > (m = ARGV[1] "/many/child.csv")
  print "id,parent_id" > (f = ARGV[1] "/few/child.csv")
  step = int(n / 10)
  for (i = 1; i <= n; i++) {
    p = (i - 1) % h + 1
    print i "," p > c
    print i "," (i <= h ? p : i) > m
    print i "," (i % step == 0 && i / step <= 10 ? n + i / step : p) > f
  }
}' "$work"
chmod -R a+rX "$work"

psql_q -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE base"
psql_q -d bench <<'SQL'
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL
    CONSTRAINT child_parent_fkey REFERENCES parent);
SQL
psql_q -d base <<SQL
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL);
\copy parent FROM '$work/clean/parent.csv' WITH (FORMAT csv, HEADER true)
\copy child FROM '$work/clean/child.csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE parent, child;
SQL

# --- measures ------------------------------------------------------------------
# Each appends its figures to $work/<measure>: wall ms, peak RSS MB, stderr lines.
fresh() { psql_q -d bench -c "TRUNCATE child, parent" -c CHECKPOINT; }
log_at() { stat -c %s "$work/log"; }

validate() {
  psql_q -d base -c CHECKPOINT
  printf '\\timing on\n%s\n' "BEGIN;
ALTER TABLE child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
ALTER TABLE child VALIDATE CONSTRAINT child_parent_fkey;
ROLLBACK;" | psql_q -d base | tee -a "$work/validate.out" | awk '/^Time:/ && ++k == 3 {printf "%.0f\n", $2}' >>"$work/validate"
}

copy_temp() {
  psql_q -d base -c CHECKPOINT
  printf '\\timing on\n%s\n' "BEGIN;
CREATE TEMP TABLE r (n bigint GENERATED ALWAYS AS IDENTITY (CACHE 100000), id text, parent_id text);
\\copy r (id, parent_id) FROM '$work/clean/child.csv' WITH (FORMAT csv, HEADER true)
ROLLBACK;" | psql_q -d base | tee -a "$work/copy_temp.out" | awk '/^Time:/ && ++k == 3 {printf "%.0f\n", $2}' >>"$work/copy_temp"
}

# run_fkload MEASURE EXPECTED_EXIT ARGS...
run_fkload() {
  local name=$1 want=$2 rc=0; shift 2
  fresh
  local from; from=$(log_at)
  /usr/bin/time -f "%e %M" -o "$work/time" "$fkload" -d "$conn" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ "$rc" != "$want" ]; then
    say "$name: exit $rc, expected $want"; tail -n 20 "$work/$name.err" >&2; exit 1
  fi
  tail -c +"$((from + 1))" "$work/log" >"$work/$name.log"
  split_log "$name"
  read -r wall rss < <(tail -n 1 "$work/time")
  awk -v w="$wall" -v r="$rss" -v l="$(wc -l <"$work/$name.err")" \
    'BEGIN {printf "%.0f %.1f %d\n", w * 1000, r / 1024, l}' >>"$work/$name"
}

# The server time of an fkload run by phase, from the server log:
#   copy_data      the COPY of the files into their tables
#   build_indexes  the primary keys built after the data
#   key_check      VALIDATE CONSTRAINT, or the statement that met the first
#                  orphan (a failed statement is not logged with a duration: it
#                  is timed from the end of the statement before it to its ERROR)
#   search_copy    the search's copy of the file into a temporary table of text
#                  columns (fkload_orphan_rows, where the file is read again;
#                  for --on-orphan, fkload_stage_N and its ANALYZE)
#   search_anti    the anti-join with its counts and first rows (WITH o AS
#                  MATERIALIZED ...; the UPDATEs that mark the orphans of a
#                  staged file)
#   search_reads   the examples' ranks in the table and, where needed, the
#                  missing keys grouped (the marked rows read back, for
#                  --on-orphan), and the DROPs
#   other          everything else (catalog queries, DDL, ROLLBACK, COMMIT)
phases=(copy_data build_indexes key_check search_copy search_anti search_reads other)
split_log() {
  awk -v out="$work/$1.phases" '
    function ms(line,  t) { t = substr(line, 12, 12); split(t, h, ":"); return ((h[1] * 60 + h[2]) * 60 + h[3]) * 1000 }
    /^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] ERROR: / { if (prev != "") v += ms($0) - prev }
    /^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] / { prev = ms($0) }
    /duration: / {
      d = $0; sub(/.*duration: /, "", d); d += 0
      if (/WITH o AS MATERIALIZED|UPDATE pg_temp\."fkload_stage_/) sa += d
      else if (/t\.ctid >= e\.lo|SELECT min\(o\.c\)/) sr += d
      else if (/fkload_orphan_rows|CREATE TEMP TABLE "fkload_stage_|COPY "pg_temp"\."fkload_stage_|ANALYZE "fkload_stage_/) sc += d
      else if (/fkload_orphans|fkload_stage_/) sr += d
      else if (/COPY .* FROM STDIN/) cd += d
      else if (/PRIMARY KEY|UNIQUE/) bi += d
      else if (/VALIDATE CONSTRAINT/) v += d
      else o += d
    }
    END { printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", cd, bi, v, sc, sa, sr, o >> out }
  ' "$work/$1.log"
}

# expect_count MEASURE ROWS: the report says how many rows are orphans.
expect_count() {
  grep -qF "DETAIL:  $2 rows of public.child have no parent row in public.parent; $2 distinct keys are missing." \
    "$work/$1.err" || { say "$1: no count of $2 orphan rows in its report:"; head -n 3 "$work/$1.err" >&2; exit 1; }
}

measures=(validate copy_temp check_clean check_many check_few load_many skip_many)
for m in "${measures[@]}"; do : >"$work/$m"; done
for r in $(seq "$runs"); do
  validate
  copy_temp
  run_fkload check_clean 0 check "$work/clean"
  run_fkload check_many 1 check "$work/many"
  expect_count check_many "$half"
  run_fkload check_few 1 check "$work/few"
  expect_count check_few 10
  run_fkload load_many 3 "$work/many"
  expect_count load_many "$half"
  run_fkload skip_many 0 --on-orphan skip --reject-dir "$work/rejects" "$work/many"
  got=$(psql_q -d bench -At -c "SELECT count(*) FROM child")
  rej=$(($(wc -l <"$work/rejects/child.rejects.csv") - 1))
  [ "$got" = "$half" ] && [ "$rej" = "$half" ] ||
    { say "skip_many: $got rows loaded and $rej rejected, expected $half and $half"; exit 1; }
  rm -rf "$work/rejects"
  fresh
  say "run $r of $runs (ms): $(for m in "${measures[@]}"; do printf '%s %s; ' "$m" "$(tail -n 1 "$work/$m" | cut -d' ' -f1)"; done)"
done

# --- results -------------------------------------------------------------------
# stat FILE COLUMN: median, min, max.
stat() { cut -d' ' -f"$2" "$1" | sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %s %s\n", m, v[1], v[NR]}'; }
range() { read -r m lo hi < <(stat "$1" "$2"); printf '%s | %s-%s' "$m" "$lo" "$hi"; }
version=$(psql_q -d postgres -At -c 'SHOW server_version')
echo "$rows child rows ($half orphans in many), $runs runs, PostgreSQL $version"
echo
echo "| measure | median ms | range ms | peak RSS MB | range MB | stderr lines |"
echo "|---|---:|---:|---:|---:|---:|"
for m in validate copy_temp; do echo "| $m | $(range "$work/$m" 1) | | | |"; done
for m in check_clean check_many check_few load_many skip_many; do
  echo "| $m | $(range "$work/$m" 1) | $(range "$work/$m" 2) | $(stat "$work/$m" 3 | cut -d' ' -f1) |"
done
echo
echo "Server time by phase, from the server log (median ms, range):"
echo
printf '| run |'; printf ' %s |' "${phases[@]}"; echo
echo "|---|$(printf -- '---:|%.0s' "${phases[@]}")"
for m in check_clean check_many check_few load_many skip_many; do
  printf '| %s |' "$m"
  for i in "${!phases[@]}"; do
    read -r pm plo phi < <(stat "$work/$m.phases" $((i + 1)))
    if [ "$plo" = "$phi" ]; then printf ' %s |' "$pm"; else printf ' %s (%s-%s) |' "$pm" "$plo" "$phi"; fi
  done
  echo
done
paste -d' ' <(cut -d' ' -f1 "$work/check_many") <(cut -d' ' -f1 "$work/check_clean") |
  awk '{print $1 - $2}' >"$work/search"
awk '{print $4 + $5 + $6}' "$work/check_many.phases" >"$work/search_server"
read -r sm slo shi < <(stat "$work/search" 1)
read -r ssm _ _ < <(stat "$work/search_server" 1)
read -r vm _ _ < <(stat "$work/validate" 1)
read -r cm _ _ < <(stat "$work/copy_temp" 1)
read -r mr _ _ < <(stat "$work/check_many" 2)
read -r fr _ _ < <(stat "$work/check_few" 2)
echo
awk -v s="$sm" -v lo="$slo" -v hi="$shi" -v ss="$ssm" -v v="$vm" -v c="$cm" -v mr="$mr" -v fr="$fr" 'BEGIN {
  printf "orphan search = check_many - check_clean: %.0f ms (per run %.0f to %.0f)\n", s, lo, hi
  printf "  / VALIDATE: %.2f; / (copy_temp + VALIDATE): %.2f\n", s / v, s / (c + v)
  printf "orphan search, server time of its statements (search_copy + search_anti + search_reads of check_many): %.0f ms\n", ss
  printf "  / VALIDATE: %.2f\n", ss / v
  printf "peak RSS check_many / check_few: %.2f (%.1f MB against %.1f MB)\n", mr / fr, mr, fr
}'
