#!/usr/bin/env bash
# README command 1: install what is missing, start an agent on embedded PostgreSQL 18 in ./.vela,
# create a branch "demo" and prove its connection string works.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
vela_bootstrap btrfs-progs postgresql-client

export VELA_AGENT_URL="${VELA_AGENT_URL:-http://127.0.0.1:7070}"
mkdir -p .vela
if curl -fsS "$VELA_AGENT_URL/healthz" >/dev/null 2>&1 || node -e "fetch('$VELA_AGENT_URL/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
  vela_log "an agent already answers at $VELA_AGENT_URL; using it"
else
  vela_log "starting the agent (log: .vela/agent.log)"
  nohup node bin/vela-branch.js agent --data-dir .vela > .vela/agent.log 2>&1 &
  echo $! > .vela/agent.pid
  for _ in $(seq 1 120); do
    if grep -q 'vela agent listening on' .vela/agent.log 2>/dev/null; then break; fi
    if ! kill -0 "$(cat .vela/agent.pid)" 2>/dev/null; then
      vela_log "the agent exited:"; tail -5 .vela/agent.log >&2; exit 1
    fi
    sleep 0.5
  done
  grep 'vela agent listening on' .vela/agent.log >&2 || { vela_log "agent did not start in 60 s"; tail -5 .vela/agent.log >&2; exit 1; }
fi

export VELA_TOKEN="${VELA_TOKEN:-$(cat .vela/admin-token)}"
node bin/vela-branch.js create demo --ttl 1d --if-exists return
if command -v psql >/dev/null; then
  node bin/vela-branch.js psql demo -- -Atc "select 'psql on branch demo works: ' || version()"
else
  vela_log "psql is not installed; checking the branch with node instead"
  node -e "const pg=require('pg');const c=new pg.Client(process.argv[1]);c.connect().then(()=>c.query('select version() v')).then(r=>{console.log('branch demo works: '+r.rows[0].v);return c.end()})" "$(node bin/vela-branch.js url demo)"
fi
cat >&2 <<MSG

Next:
  export VELA_AGENT_URL=$VELA_AGENT_URL VELA_TOKEN=\$(cat .vela/admin-token)
  node bin/vela-branch.js list              # branches, ports, ages, sizes
  node bin/vela-branch.js create my-feature # another branch of main, well under a second
  node bin/vela-branch.js psql demo         # a psql shell on the branch
  kill \$(cat .vela/agent.pid)               # stop the agent (branches come back on the next start)
MSG
