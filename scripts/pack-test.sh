#!/usr/bin/env bash
# The published packages, as a user without Rust gets them: packs lws and lws-linux-x64-gnu
# (npm/linux-x64-gnu/ with the engine built here), installs both tarballs into an empty
# project on a PATH that has node and npm but no cargo, and runs scripts/pack-check.js
# there (require, import, the demo, a client round trip). Then, without the platform
# package: with no cargo require('lws') must throw the one clear error; with cargo the
# install script builds the engine from source. First, the prebuild workflow's publish step
# runs dry (napi artifacts, napi pre-publish). Run by .ci/run (`npm run pack-test`).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d /tmp/lws-pack-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

retry() {
  "$@" && return 0
  echo "pack-test: '$*' failed; retrying once in 10 s" >&2
  sleep 10
  "$@"
}

node scripts/build.js
platform=$(node -p "require('./lib/native-path').platform")
[ "$platform" = linux-x64-gnu ] || { echo "pack-test: only linux-x64-gnu is built and tested here (this is $platform)" >&2; exit 1; }

# The platform package gets its binary as `napi artifacts` gives it one in the prebuild workflow.
mkdir -p "$work/tarballs" "$work/stage"
cp -r npm/linux-x64-gnu "$work/stage/"
cp "native/lws.$platform.node" "$work/stage/linux-x64-gnu/"
# The workflow builds with `napi build --strip`.
if command -v strip >/dev/null; then strip --strip-unneeded "$work/stage/linux-x64-gnu/lws.$platform.node"; fi
(cd "$work/stage/linux-x64-gnu" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
# The main package as the publish step makes it: `napi pre-publish` adds the platform
# packages as optionalDependencies. The repository's package.json does not list them, so
# that a clone's `npm install` never fetches a package of that name from the registry.
mkdir -p "$work/main-stage/scripts"
# (The "!" entries of `files` are exclusions: npm pack applies them to the copy.)
for f in $(node -p "require('./package.json').files.filter((f) => !f.startsWith('!')).join(' ')") README.md LICENSE; do
  mkdir -p "$work/main-stage/$(dirname "$f")"
  cp -r "${f%/}" "$work/main-stage/$(dirname "$f")/"
done
node -e "
const p = require('./package.json');
p.optionalDependencies = Object.fromEntries(require('./lib/native-path').PREBUILT.map((t) => ['lws-' + t, p.version]));
require('fs').writeFileSync(process.argv[1], JSON.stringify(p, null, 2) + '\n');
" "$work/main-stage/package.json"
(cd "$work/main-stage" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
main=$(ls "$work"/tarballs/lws-[0-9]*.tgz)
binary=$(ls "$work"/tarballs/lws-linux-x64-gnu-*.tgz)

# The prebuild workflow's publish step, dry run: `napi artifacts` puts each platform's binary
# (here the real one for linux-x64-gnu, placeholders for the others) into npm/<platform>/, and
# `napi pre-publish` accepts the packages, their versions and lws's optionalDependencies.
mkdir -p "$work/publish"
cp -r package.json npm "$work/publish/"
for p in $(node -p "require('./lib/native-path').PREBUILT.join(' ')"); do
  mkdir -p "$work/publish/artifacts/bindings-$p"
  if [ "$p" = "$platform" ]; then cp "native/lws.$p.node" "$work/publish/artifacts/bindings-$p/"; else echo placeholder >"$work/publish/artifacts/bindings-$p/lws.$p.node"; fi
done
(cd "$work/publish" && git init -q && git -c user.name=pack-test -c user.email=pack-test@localhost commit -q --allow-empty -m 'pack-test' \
  && "$OLDPWD/node_modules/.bin/napi" artifacts --output-dir artifacts --npm-dir npm >napi.log 2>&1 \
  && "$OLDPWD/node_modules/.bin/napi" pre-publish -t npm --dry-run >>napi.log 2>&1) \
  || { cat "$work/publish/napi.log" >&2; echo "pack-test: napi artifacts / pre-publish --dry-run failed" >&2; exit 1; }
echo "pack-test: napi artifacts + napi pre-publish --dry-run accept npm/ and package.json ($(ls "$work"/publish/npm/*/*.node | wc -l) platform packages)"

# Small, and only what a user needs: no build output, tests, benchmarks or fixtures.
size() { stat -c %s "$1"; }
echo "pack-test: $(basename "$main") $(size "$main") bytes, $(tar tzf "$main" | wc -l) files; $(basename "$binary") $(size "$binary") bytes"
if tar tzf "$main" | grep -E '^package/(target|native|npm|__test__|benches|fuzz|examples|\.ci)/|\.node$'; then
  echo "pack-test: the files above do not belong in $(basename "$main")" >&2
  exit 1
fi
# The Rust sources (for a build where no prebuilt binary fits), the docs and the CHANGELOG come
# to about 300 kB; build output or fixtures would add megabytes.
[ "$(size "$main")" -lt 400000 ] || { echo "pack-test: $(basename "$main") is over 400 kB" >&2; exit 1; }
[ "$(tar tzf "$binary" | sort | tr '\n' ' ')" = "package/README.md package/lws.linux-x64-gnu.node package/package.json " ] \
  || { echo "pack-test: unexpected files in $(basename "$binary"): $(tar tzf "$binary" | tr '\n' ' ')" >&2; exit 1; }

# node and npm, nothing else: no cargo, so nothing can be built from source (npm runs
# install scripts with /bin/sh, named by --script-shell since the PATH has no sh).
mkdir -p "$work/bin"
ln -s "$(command -v node)" "$work/bin/node"
ln -s "$(command -v npm)" "$work/bin/npm"
if env PATH="$work/bin" /bin/sh -c 'command -v cargo'; then echo "pack-test: cargo is still on the PATH" >&2; exit 1; fi

newapp() {
  mkdir -p "$1"
  echo '{ "name": "app", "version": "1.0.0", "private": true }' >"$1/package.json"
  cp scripts/pack-check.js "$1/check.js"
  sed "s#require('\.\.')#require('lws')#" examples/demo.js >"$1/demo.js" # as a user would write it
}

newapp "$work/app"
(cd "$work/app" && retry timeout 300 env PATH="$work/bin" npm install --no-audit --no-fund --loglevel=error --script-shell=/bin/sh "$main" "$binary")
(cd "$work/app" && timeout 120 env PATH="$work/bin" node check.js)
# TypeScript users get the types through the package's exports (index.d.ts, index.d.mts).
cat >"$work/app/esm-check.mts" <<'EOF_TS'
import { Server, Client, WebSocketServer } from 'lws';
const server: Server = new Server({ port: 0 });
server.on('message', (socket, message, binary) => server.send(socket, message, binary));
const client: Client = new Client();
const wss: WebSocketServer = new WebSocketServer({ noServer: true });
export { server, client, wss };
EOF_TS
cat >"$work/app/cjs-check.cts" <<'EOF_TS'
import lws = require('lws');
const server = new lws.Server({ port: 0 });
server.on('close', (socket, code: number) => console.log(code));
export = server;
EOF_TS
(cd "$work/app" && timeout 120 node "$OLDPWD/node_modules/typescript/bin/tsc" --strict --noEmit --module nodenext --moduleResolution nodenext \
  --types node --typeRoots "$OLDPWD/node_modules/@types" esm-check.mts cjs-check.cts) \
  || { echo "pack-test: the installed package's types do not compile" >&2; exit 1; }
echo "pack-test: tsc --strict compiles an ES module and a CommonJS file against the installed package's types"

# No prebuilt binary and no cargo: the install goes through, require('lws') explains.
rm -rf "$work/app/node_modules/lws-linux-x64-gnu"
(cd "$work/app" && timeout 60 env PATH="$work/bin" node check.js no-engine)
newapp "$work/app-omit"
(cd "$work/app-omit" && retry timeout 300 env PATH="$work/bin" npm install --no-audit --no-fund --loglevel=error --script-shell=/bin/sh --omit=optional "$main")
(cd "$work/app-omit" && timeout 60 env PATH="$work/bin" node check.js no-engine)
# No prebuilt binary but cargo on the PATH: the install script builds the engine from source
# (release, as the README's clone does; cargo's target dir is shared with this checkout's).
newapp "$work/app-source"
(cd "$work/app-source" && export CARGO_TARGET_DIR="$target_dir" && retry timeout 900 npm install --no-audit --no-fund --loglevel=error --omit=optional "$main")
(cd "$work/app-source" && timeout 120 node check.js source)
echo "pack-test: ok"
