#!/bin/sh
# The quick start's main job: a private plogsrvd in a temporary directory, a
# process whose memory grows, logged every second for five seconds, and the
# log it wrote. Everything started here is stopped on the way out.
set -eu
cd "$(dirname "$0")/.."
plogsrvd="node dist/src/cli/plogsrvd.js"
plog="node dist/src/cli/plog.js"

dir=$(mktemp -d /tmp/plog-demo.XXXXXX)
$plogsrvd -d "$dir" -m owner
server=$($plog -d "$dir" -q pid)

# The process to watch: it takes 4 MB more every second.
node -e 'const keep = []; setInterval(() => keep.push(Buffer.alloc(4 << 20, 1)), 1000)' &
target=$!
trap 'kill "$target" "$server" 2>/dev/null || true' EXIT INT TERM

echo "\$ plog -d $dir -p $target -i 1s"
$plog -d "$dir" -p "$target" -i 1s
sleep 5.5
echo
echo "\$ cat $dir/node.$target"
cat "$dir/node.$target"
echo
echo "(plogsrvd pid $server stops now; the log stays in $dir)"
