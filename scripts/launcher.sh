# Sourced by quickstart.sh: writes the `vela-branch` launcher (a suitable Node + this checkout + its
# agent) where a new login shell finds it, and sets VELA_CMD to how the caller can run it right now.
# Usage: vela_launcher NODE CHECKOUT AGENT_URL DATA_DIR CALLER_PATH

LAUNCHER_MARK='# vela-branch launcher written by scripts/quickstart.sh'

vela_sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # single-quoted for sh

vela_launcher() {
  local node="$1" checkout="$2" url="$3" data_dir="$4" caller_path="$5" target dir
  if [ "$(id -u)" -eq 0 ]; then dir=/usr/local/bin; else dir="$HOME/.local/bin"; fi
  target="$dir/vela-branch"
  if [ -e "$target" ] && ! grep -qF "$LAUNCHER_MARK" "$target" 2>/dev/null; then
    # Someone else's vela-branch (e.g. npm install -g): leave it, keep ours beside the data.
    vela_log "$target is not ours; leaving it and writing the launcher to $data_dir/vela-branch"
    dir="$data_dir"
    target="$dir/vela-branch"
  fi
  mkdir -p "$dir"
  # The token is read at each run and sent only to this agent, never to a VELA_AGENT_URL set for another one.
  cat >"$target.tmp" <<SH
#!/bin/sh
$LAUNCHER_MARK
# from $(vela_sq "$checkout"): Node >= 22.18, that checkout, and the agent it started.
if [ -z "\${VELA_AGENT_URL:-}" ] || [ "\$VELA_AGENT_URL" = $(vela_sq "$url") ]; then
  VELA_AGENT_URL=$(vela_sq "$url")
  if [ -z "\${VELA_TOKEN:-}" ] && [ -r $(vela_sq "$data_dir/admin-token") ]; then VELA_TOKEN=\$(cat $(vela_sq "$data_dir/admin-token")); export VELA_TOKEN; fi
  export VELA_AGENT_URL
fi
exec $(vela_sq "$node") $(vela_sq "$checkout/bin/vela-branch.js") "\$@"
SH
  chmod 0755 "$target.tmp"
  mv -f "$target.tmp" "$target"
  vela_log "installed $target (runs $checkout with $("$node" -v))"

  # How a new login shell resolves the name (a profile may add ~/.local/bin only once it exists).
  local login
  login="$(env -i HOME="$HOME" USER="$(id -un)" LOGNAME="$(id -un)" SHELL=/bin/bash bash -lc 'command -v vela-branch' </dev/null 2>/dev/null | tail -1 || true)"
  if [ "$login" != "$target" ]; then
    vela_log "for vela-branch in new shells, add this line to ~/.profile:  export PATH=\"$dir:\$PATH\""
  fi
  if [ "$(PATH="$caller_path" && hash -r && command -v vela-branch 2>/dev/null || true)" = "$target" ]; then
    VELA_CMD=vela-branch
  else
    VELA_CMD="$(printf %q "$target")"
    [ "$login" = "$target" ] && vela_log "new login shells find vela-branch; this shell needs the full path $target until then"
  fi
}
