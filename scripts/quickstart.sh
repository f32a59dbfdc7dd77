#!/usr/bin/env bash
# README command 1: install what is missing, start this checkout's agent on embedded PostgreSQL 18
# (or find it running, or bring it and its branches back), create a branch "demo", prove its
# connection string works, and put a `vela-branch` launcher on the PATH. Safe to run again.
set -euo pipefail
umask 022 # the postgres OS user must be able to reach what this creates
cd "$(dirname "$0")/.."
checkout="$(pwd -P)"
caller_path="$PATH" # before bootstrap puts a newer Node first: what the caller's shell has
source scripts/bootstrap.sh
source scripts/launcher.sh
vela_bootstrap btrfs-progs postgresql-client
node="$(command -v node)"
# This script runs the agent of this checkout with its defaults; settings meant for another agent stay out.
unset VELA_DATA_DIR VELA_CONFIG VELA_LISTEN VELA_ADMIN_TOKEN VELA_AGENT_URL VELA_TOKEN

# The agent's own choice (src/agent/data-dir.ts): ./.vela, or as root /var/lib/vela-branch/<name>
# when the postgres OS user cannot reach this checkout (a 0700 home such as /root).
data_dir="$("$node" --input-type=module -e '
  const { chooseDefaultDataDir } = await import("./src/agent/data-dir.ts");
  const { processRunner } = await import("./src/agent/runner.ts");
  const log = (m) => process.stderr.write(`vela: ${m}\n`);
  const c = await chooseDefaultDataDir({ dataDir: ".vela", pgUser: "vela", runner: processRunner, log });
  if (c.note) log(c.note);
  process.stdout.write(c.dir);')"
mkdir -p "$data_dir"
pid_file="$data_dir/agent.pid" url_file="$data_dir/agent.url" log_file="$data_dir/agent.log"

cli() { "$node" bin/vela-branch.js "$@"; }
answers() { "$node" -e 'fetch(process.argv[1] + "/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; }
port_free() { "$node" -e 'const s = require("net").createServer(); s.once("error", () => process.exit(1)); s.listen(+process.argv[1], "127.0.0.1", () => s.close(() => process.exit(0)))' "$1"; }
# The pid in agent.pid, if that process is still this checkout's agent (not a reused pid after a reboot).
agent_pid() {
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$checkout" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'vela-branch.js agent' && echo "$pid"
}

if pid="$(agent_pid)" && url="$(cat "$url_file" 2>/dev/null)" && answers "$url"; then
  how="agent already running (pid $pid, $url)"
else
  if pid="$(agent_pid)"; then
    vela_log "agent pid $pid does not answer; stopping it"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  # Same port as last time when it is free, else the first free one from 7070 (another checkout's agent may have it).
  port=""
  for p in $(sed -n 's/.*:\([0-9]*\)$/\1/p' "$url_file" 2>/dev/null) $(seq 7070 7099); do
    if port_free "$p"; then port="$p" && break; fi
  done
  [ -n "$port" ] || { vela_log "no free port in 7070-7099 for the agent"; exit 1; }
  url="http://127.0.0.1:$port"
  if [ -d "$data_dir/state" ]; then how="restarted the agent"; else how="started the agent"; fi
  [ -f "$log_file" ] && mv -f "$log_file" "$log_file.1"
  vela_log "starting the agent on $url (log: $log_file)"
  nohup "$node" bin/vela-branch.js agent --listen "127.0.0.1:$port" >"$log_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  echo "$url" >"$url_file"
  for _ in $(seq 1 240); do
    if grep -q 'vela agent listening on' "$log_file" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      vela_log "the agent exited:"
      tail -5 "$log_file" >&2
      exit 1
    fi
    sleep 0.5
  done
  grep 'vela agent listening on' "$log_file" >&2 || {
    vela_log "agent did not start in 120 s"
    tail -5 "$log_file" >&2
    exit 1
  }
  how="$how (pid $pid, $url)"
fi

export VELA_AGENT_URL="$url"
VELA_TOKEN="$(cat "$data_dir/admin-token")"
export VELA_TOKEN
# What the agent holds: main (with its creation time, so a restart visibly kept it) and the other branches.
branch_names() { cli list --json | "$node" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).branches.map((b) => b.name).join(" ")))'; }
main_born="$(cli list --json | "$node" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).branches.find((b) => b.name === "main")?.createdAt ?? "missing"))')"
others=()
for b in $(branch_names); do [ "$b" = main ] || others+=("$b"); done
case "${#others[@]}" in
  0) back="no other branch" ;;
  1) back="1 branch (${others[*]})" ;;
  *) back="${#others[@]} branches (${others[*]})" ;;
esac
case "$how" in
  started*) vela_log "$how; main created $main_born" ;;
  restarted*) vela_log "$how; main (created $main_born) and $back back" ;;
  *) vela_log "$how; main (created $main_born) and $back" ;;
esac
# Without copy-on-write storage every branch is a full copy: say so here, not only in the log.
copy_warning="$(grep -o 'storage copy: [^"]*' "$log_file" 2>/dev/null | head -1 || true)"
[ -z "$copy_warning" ] || vela_log "warning: $copy_warning"

cli create demo --ttl 1d --if-exists return
vela_launcher "$node" "$checkout" "$url" "$data_dir" "$caller_path"
feature=my-feature
names=" $(branch_names) "
for n in $(seq 2 99); do [[ "$names" == *" $feature "* ]] && feature="my-feature-$n" || break; done
next() { printf '  %-40s # %s\n' "$1" "$2" >&2; }
printf '\nNext:\n' >&2
next "$VELA_CMD list" "branches, ports, ages, sizes"
next "$VELA_CMD create $feature" "another branch of main, well under a second"
next "$VELA_CMD psql demo" "a psql shell on the branch"
next "kill \$(cat $(printf %q "$pid_file"))" "stop the agent; bash scripts/quickstart.sh brings it and every branch back"
echo >&2

# Last, the proof that the branch's connection string works.
if command -v psql >/dev/null; then
  cli psql demo -- -Atc "select 'psql on branch demo works: ' || version()"
else
  vela_log "psql is not installed; checking the branch with node instead"
  "$node" -e "const pg=require('pg');const c=new pg.Client(process.argv[1]);c.connect().then(()=>c.query('select version() v')).then(r=>{console.log('branch demo works: '+r.rows[0].v);return c.end()})" "$(cli url demo)"
fi
