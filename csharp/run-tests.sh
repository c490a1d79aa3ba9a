#!/usr/bin/env bash
# Builds the native library, the fixture modules, the C# wrapper, the Revit loader (its core and, against
# the Revit API stub, its shell) with mono's mcs, and runs the NUnit tests under mono.
# Usage: bash csharp/run-tests.sh   (from anywhere; installs mono and NUnit when missing, as root)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

nunit_framework=/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll
if ! command -v mcs >/dev/null || ! command -v mono >/dev/null || ! command -v nunit-console >/dev/null || [ ! -f "$nunit_framework" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "mcs, mono and nunit-console are needed: apt-get install mono-mcs nunit-console libnunit-cil-dev (as root)" >&2
        exit 1
    fi
    apt-get update
    apt-get install -y mono-mcs nunit-console libnunit-cil-dev
fi
if [ ! -f "$nunit_framework" ]; then
    nunit_framework="$(pkg-config --libs nunit | tr ' ' '\n' | sed -n 's/^-r://p' | grep 'nunit.framework.dll$' | head -n 1)"
fi

echo "== native library and fixture modules"
cargo build --quiet --lib --bin plughost
cargo build --quiet --release -p counter -p counter-v2 -p counter-broken -p tls-pinned -p plughost-python-worker --target-dir target/fixtures
fixtures=target/csharp-fixtures
mkdir -p "$fixtures"
c_module() { # source define name
    cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -O1 -I include ${2:+-D$2} -o "$fixtures/lib$3.so" "$1"
}
c_module examples/c/greeter_module.c "" greeter
for variant in NO_ENTRY:no_entry ABI_MISMATCH:abi_mismatch SHORT_TABLE:short_table NULL_ENTRY:null_entry \
    INIT_FAILS:init_fails MISSING_EXECUTE:missing_execute RESTORE_FAILS:restore_fails; do
    c_module tests/c/bad_modules.c "${variant%%:*}" "${variant##*:}"
done
c_module csharp/PlugHost.Tests/fixtures/fake_plughost_abi99.c "" fake_plughost_abi99
# The C IPC peer (peer B of the session tests) and the C plugin, linked to the library they run with.
for program in ipc_peer plugin_c; do
    cc -std=c11 -Wall -Wextra -Werror -O1 -I include -o "$fixtures/$program" "examples/c/$program.c" \
        -L "$repo/target/debug" -lplughost -Wl,-rpath,"$repo/target/debug"
done

echo "== C# (mcs $(mcs --version | awk '{print $NF}'), C# 7.2)"
out=target/csharp-tests
rm -rf "$out"
mkdir -p "$out"
# The versioned library name the generated [DllImport]s use; mono finds the file beside PlugHost.dll.
name="$(sed -n 's/.*const string __DllName = "\(.*\)";/\1/p' csharp/PlugHost/NativeMethods.g.cs)"
cp target/debug/libplughost.so "$out/lib$name.so"
csc() { mcs -langversion:7.2 -unsafe -warnaserror+ -nowarn:1591 "$@"; }
csc -target:library -out:"$out/PlugHost.dll" -r:System.dll -r:System.Core.dll csharp/PlugHost/*.cs
# Type-check the .NET 8 branch (NETCOREAPP) too, against a shim of NativeLibrary; the output is discarded.
csc -target:library -define:NETCOREAPP -out:"$out/netcoreapp-check.dll" -r:System.dll -r:System.Core.dll \
    csharp/PlugHost/*.cs csharp/PlugHost.Tests/compile-check/NativeLibraryShim.cs
rm "$out/netcoreapp-check.dll"
tests=(csharp/PlugHost.Tests/*.cs)
csc -target:library -out:"$out/PlugHost.Tests.dll" -r:"$out/PlugHost.dll" -r:"$nunit_framework" -r:System.dll -r:System.Core.dll \
    $(printf '%s\n' "${tests[@]}" | grep -v -e NativeProbe.cs -e SessionPeer.cs -e PluginPeer.cs)
csc -target:exe -out:"$out/NativeProbe.exe" -r:"$out/PlugHost.dll" csharp/PlugHost.Tests/NativeProbe.cs
csc -target:exe -out:"$out/SessionPeer.exe" -r:"$out/PlugHost.dll" csharp/PlugHost.Tests/SessionPeer.cs
csc -target:exe -out:"$out/PluginPeer.exe" -r:"$out/PlugHost.dll" csharp/PlugHost.Tests/PluginPeer.cs
assemblies=("$out/PlugHost.Tests.dll")

if [ -d csharp/RevitLoader ]; then
    loader=csharp/RevitLoader
    stub="$loader/tests/RevitApiStub"
    csc -target:library -out:"$out/PlugHost.RevitLoader.Core.dll" -r:"$out/PlugHost.dll" -r:System.dll -r:System.Core.dll "$loader"/Core/*.cs
    csc -target:library -out:"$out/RevitAPI.dll" "$stub"/RevitAPI/*.cs
    csc -target:library -out:"$out/RevitAPIUI.dll" -r:"$out/RevitAPI.dll" "$stub"/RevitAPIUI/*.cs
    csc -target:library -out:"$out/PlugHost.RevitLoader.dll" -r:"$out/PlugHost.dll" -r:"$out/PlugHost.RevitLoader.Core.dll" \
        -r:"$out/RevitAPI.dll" -r:"$out/RevitAPIUI.dll" -r:System.dll -r:System.Core.dll "$loader"/Shell/*.cs
    cp "$loader/PlugHost.RevitLoader.addin" "$out/"
    csc -target:library -out:"$out/PlugHost.RevitLoader.Tests.dll" -r:"$out/PlugHost.dll" -r:"$out/PlugHost.RevitLoader.Core.dll" \
        -r:"$out/PlugHost.RevitLoader.dll" -r:"$out/RevitAPI.dll" -r:"$out/RevitAPIUI.dll" -r:"$out/PlugHost.Tests.dll" \
        -r:"$nunit_framework" -r:System.dll -r:System.Core.dll -r:System.Xml.dll "$loader"/tests/*.cs
    assemblies+=("$out/PlugHost.RevitLoader.Tests.dll")
fi

echo "== the README's C# example (examples/csharp/HostExample.cs)"
csc -target:exe -out:"$out/HostExample.exe" -r:"$out/PlugHost.dll" examples/csharp/HostExample.cs
example_output="$(cd "$out" && mono HostExample.exe "$repo/target/fixtures/release/libcounter.so")"
echo "$example_output"
for expected in "version: 1.0.0" "increment 5: 5" "reloaded: generation 2, value kept: 5" "fail: failure requested by the caller" "health: Healthy"; do
    if ! grep -qF "$expected" <<<"$example_output"; then
        echo "the C# example did not print \"$expected\"" >&2
        exit 1
    fi
done

echo "== NUnit"
export PLUGHOST_REPO="$repo"
# -noshadow: the tests must run from $out, where the native library lies beside PlugHost.dll.
# nunit-console 2.6 under mono now and then does not exit after it has written its results: at
# shutdown mono waits for the runner's own remoting listener thread, blocked in accept() (seen about
# once in five runs, with every test finished and TestResult.xml written). So the runner runs in
# the background; once the result file is written it gets 60 s to exit, and is then stopped, and the
# result file decides.
status=0
killed=0
rm -f "$out/TestResult.xml"
(cd "$out" && exec nunit-console -nologo -noshadow -labels -xml=TestResult.xml "${assemblies[@]##*/}") > "$out/nunit.log" 2>&1 &
runner=$!
written_at=""
while kill -0 "$runner" 2>/dev/null; do
    if [ -z "$written_at" ] && [ -s "$out/TestResult.xml" ]; then
        written_at=$SECONDS
    fi
    if [ -n "$written_at" ] && [ $((SECONDS - written_at)) -gt 60 ]; then
        echo "nunit-console did not exit 60 s after writing its results; stopping it (the results decide)" >&2
        kill "$runner" 2>/dev/null || true
        sleep 2
        kill -9 "$runner" 2>/dev/null || true
        killed=1
        break
    fi
    sleep 1
done
wait "$runner" || status=$?
grep -v '^\*\*\*\*\* ' "$out/nunit.log" | sed -n '/^Tests run:/,$p'
summary="$(grep -o '<test-results [^>]*' "$out/TestResult.xml" 2>/dev/null || true)"
total="$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$summary")"
bad="$(sed -n 's/.* errors="\([0-9]*\)" failures="\([0-9]*\)".*/\1\2/p' <<<"$summary")"
results_ok=0
if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$bad" = "00" ]; then
    results_ok=1
fi
if [ "$killed" -eq 1 ] && [ "$results_ok" -eq 1 ]; then
    status=0
elif [ "$results_ok" -eq 0 ] && [ "$status" -eq 0 ]; then
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "NUnit failed (exit $status, results: ${summary:-none}); full log: $out/nunit.log" >&2
    exit "$status"
fi
echo "C# tests passed ($total tests)"
