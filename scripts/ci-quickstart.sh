#!/usr/bin/env bash
# CI check of README command 1 the way a new user meets it, on a machine whose own Node may be too old:
#  root: a fresh clone of this commit in a 0700 directory under /root; `bash scripts/quickstart.sh`; every
#        "Next" command it printed, in a new login shell; `bash -lc 'vela-branch list'`; then a reboot-like
#        stop (agent and postgres killed, pool unmounted) and the quickstart again: same main, same branches.
#  user: the same as an unprivileged user in its home directory (copy storage, with the warning).
# Cleans up what it started (agents, their postgres, pools, the launcher) so a second run works.
# Writes "PASSED FAILED" to $VELA_CI_COUNTS when set; exit status 0 only when every part passed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd -P)"
commit="$(git -C "$repo" rev-parse HEAD)"
FRESH_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin # a login PATH: no /opt/vela-node24
CI_USER=vela-ci
LAUNCHER=/usr/local/bin/vela-branch
passed=0 failed=0

say() { printf '\033[1mci-quickstart:\033[0m %s\n' "$*" >&2; }
counts() { [ -z "${VELA_CI_COUNTS:-}" ] || echo "$passed $failed" >"$VELA_CI_COUNTS"; }
if [ "$(id -u)" -ne 0 ]; then
  say "skipped: needs root (a 0700 /root clone, an unprivileged user, loop-mounted pools)"
  failed=1 && counts && exit 1
fi

# The machine's network settings (a proxy, its CA) reach npm as they would in a user's session.
NET_ENV=()
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!v:-}" ] || NET_ENV+=("$v=${!v}")
done

# As USER in DIR, in a clean login environment: `as_user USER DIR bash -c CMD` / `bash -lc CMD`.
as_user() {
  local user="$1" dir="$2" home
  shift 2
  home="$(getent passwd "$user" | cut -d: -f6)"
  (cd "$dir" && runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
    TERM=dumb LANG=C.UTF-8 PATH="$FRESH_PATH" "${NET_ENV[@]}" "$@" </dev/null)
}

# Every postmaster of data dir DIR (postgres -D DIR/pool/vols/NAME), by pid; its children follow it.
pids_under() {
  local f args
  for f in /proc/[0-9]*/cmdline; do
    args="$(tr '\0' ' ' 2>/dev/null <"$f")" || continue
    [[ "$args" == *"postgres -D $1/"* ]] && basename "$(dirname "$f")"
  done
  return 0
}

# Stops this data dir's agent and every postgres it ran, then unmounts its pool (a reboot, minus the reboot).
stop_everything() {
  local data="$1" pid
  pid="$(cat "$data/agent.pid" 2>/dev/null)"
  if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'vela-branch.js agent'; then kill -9 "$pid"; fi
  for pid in $(pids_under "$data"); do kill -9 "$pid" 2>/dev/null; done
  for _ in $(seq 1 40); do
    [ -z "$(pids_under "$data")" ] && break
    sleep 0.25
  done
  if mountpoint -q "$data/pool"; then
    for _ in $(seq 1 20); do umount "$data/pool" 2>/dev/null && break; sleep 0.5; done
  fi
  ! mountpoint -q "$data/pool"
}

# The "Next" commands of a quickstart output, comments removed.
next_commands() { sed -n '/^Next:$/,/^$/p' "$1" | sed -n 's/^  \(.*[^ ]\) *# .*$/\1/p'; }

check() { # check DESCRIPTION COMMAND...: run it, fail the part when it fails
  if "${@:2}"; then say "ok: $1"; else
    say "FAILED: $1"
    part_ok=false
  fi
}
has_line() { grep -q -- "$2" "$1" || { say "no line matching '$2' in $1:" && tail -20 "$1" >&2 && return 1; }; }
ends_with_psql() { [[ "$(tail -1 "$1")" == "psql on branch demo works: "* ]] || { say "last line: $(tail -1 "$1")" && false; }; }
lists_demo_and_main() { grep -q '^demo ' "$1" && grep -q '^main ' "$1" || { cat "$1" >&2 && false; }; }

# run_part NAME USER WORKDIR: clone, quickstart, Next commands, reboot-like stop, quickstart again.
run_part() {
  local name="$1" user="$2" work="$3" clone out data cmd born
  clone="$work/vela-branch" out="$work/out"
  mkdir -p "$out"
  part_ok=true
  say "[$name] git clone of $commit into $work (mode $(stat -c %a "$work"))"
  git clone -q --no-checkout "$repo" "$clone" && git -C "$clone" checkout -q --detach "$commit" && chown -R "$user:" "$work" ||
    { say "FAILED: clone" && part_ok=false && return; }
  as_user "$user" "$clone" bash scripts/quickstart.sh >"$out/1" 2>&1
  check "[$name] bash scripts/quickstart.sh exits 0" test $? -eq 0
  $part_ok || { tail -15 "$out/1" >&2 && return; }
  check "[$name] it ends with 'psql on branch demo works'" ends_with_psql "$out/1"
  data="$(next_commands "$out/1" | sed -n 's/^kill \$(cat \(.*\)\/agent\.pid)$/\1/p')"
  [ -n "$data" ] && CLEAN_DATA+=("$data")
  check "[$name] it printed the agent's data dir in its stop command" test -n "$data"
  if [ "$name" = root ]; then
    check "[$name] data moved out of the 0700 home" has_line "$out/1" "is not reachable by the postgres OS user"
  else
    check "[$name] copy storage, with the warning" has_line "$out/1" "warning: storage copy: .*FULL COPY"
  fi
  as_user "$user" "$work" bash -lc 'vela-branch list' >"$out/list" 2>&1
  check "[$name] bash -lc 'vela-branch list' shows demo and main" lists_demo_and_main "$out/list"
  local i=0
  while IFS= read -r cmd; do
    i=$((i + 1))
    as_user "$user" "$clone" bash -lc "$cmd" >"$out/next-$i" 2>&1
    check "[$name] Next: $cmd" test $? -eq 0
  done < <(next_commands "$out/1")
  check "[$name] ran the 4 Next commands" test "$i" -eq 4
  born="$(grep -o 'main created [^ ;]*' "$out/1" | cut -d' ' -f3)"

  [ -n "$data" ] && check "[$name] reboot-like stop: agent and postgres killed, pool unmounted" stop_everything "$data"
  as_user "$user" "$clone" bash scripts/quickstart.sh >"$out/2" 2>&1
  check "[$name] quickstart after the stop exits 0" test $? -eq 0
  check "[$name] it restarted the same main and its branches" has_line "$out/2" "restarted the agent .*main (created $born) and 2 branches (demo my-feature) back"
  as_user "$user" "$clone" bash scripts/quickstart.sh >"$out/3" 2>&1
  check "[$name] run again: says agent already running" has_line "$out/3" "agent already running"
  check "[$name] run again: Next creates a new name, my-feature-2" has_line "$out/3" "create my-feature-2 "
  check "[$name] every run ends with psql on branch demo works" ends_with_psql "$out/3"
  if $part_ok; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    say "[$name] outputs kept in $out"
  fi
}

CLEAN_DATA=() CLEAN_DIRS=()
launcher_backup=""
if [ -e "$LAUNCHER" ]; then
  launcher_backup="$(mktemp /tmp/vela-ci-launcher-XXXXXX)"
  cp -a "$LAUNCHER" "$launcher_backup"
fi
# Agents, postgres, pools and data dirs this run made; the launchers put back as they were.
cleanup() {
  local data
  for data in "${CLEAN_DATA[@]}"; do
    stop_everything "$data" || say "could not unmount $data/pool"
    rm -rf "$data"
  done
  CLEAN_DATA=()
  rm -f "/home/$CI_USER/.local/bin/vela-branch"
  if [ -n "$launcher_backup" ]; then cp -a "$launcher_backup" "$LAUNCHER"; else rm -f "$LAUNCHER"; fi
}
trap 'cleanup; rm -f "$launcher_backup"' EXIT

parts="${*:-root user}" # a subset for debugging: ci-quickstart.sh user
if [[ " $parts " == *" root "* ]]; then
  work="$(mktemp -d /root/vela-ci-quickstart-XXXXXX)" # mktemp -d: mode 0700, like root's home
  CLEAN_DIRS+=("$work")
  run_part root root "$work"
  cleanup # the user's part starts from a machine without root's agent or launcher
fi
if [[ " $parts " == *" user "* ]]; then
  id "$CI_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$CI_USER"
  work="$(runuser -u "$CI_USER" -- mktemp -d "/home/$CI_USER/vela-ci-quickstart-XXXXXX")"
  CLEAN_DIRS+=("$work")
  run_part user "$CI_USER" "$work"
fi

# Stop the user's agent while its pid file still exists; then the clones go too, unless a part
# failed: then its outputs stay for the log above.
cleanup
# Nothing of ours may outlive the check: a process still working in a clone is a cleanup bug.
for f in /proc/[0-9]*/cwd; do
  cwd="$(readlink "$f" 2>/dev/null)" || continue
  for d in "${CLEAN_DIRS[@]}"; do
    if [[ "$cwd" == "$d"/* ]]; then
      pid="$(basename "$(dirname "$f")")"
      say "FAILED: cleanup left pid $pid running in $cwd; killing it"
      kill -9 "$pid" 2>/dev/null
      failed=$((failed + 1)) passed=$((passed > 0 ? passed - 1 : 0))
    fi
  done
done
[ "$failed" -gt 0 ] || rm -rf "${CLEAN_DIRS[@]}"
say "$passed passed, $failed failed (root in a 0700 /root clone; user $CI_USER in its home)"
counts
[ "$failed" -eq 0 ]
