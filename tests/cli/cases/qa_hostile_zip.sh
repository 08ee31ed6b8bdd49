# QA: hand-made archives. A plain `zip -r` of a store unpacks and opens;
# hostile archives (made with python3's zipfile) are refused before anything
# is written, inside or outside the destination.
zippy put s -c users u1 '{"v":1}' -q
zippy put s -c users u2 '{"v":2}' -q
section "zip -r of the store's content"
(cd s && zip -qr ../plain.zip .)
x zippy unpack plain.zip u
x zippy get u -c users u2
x zippy put u -c users u3 '{"v":3}'
x zippy verify u
section "hostile archives"
mkdir box && cd box
python3 - <<'PY'
import stat, zipfile
good = [("zds.json", '{"format":"zippy","format_version":1}'),
        ("collections/c/meta/data.jsonl", '{"_id":"a"}\n')]
def mk(name, extra=(), special=None):
    with zipfile.ZipFile(name, "w") as z:
        for n, d in good: z.writestr(n, d)
        for n, d in extra: z.writestr(n, d)
        if special:
            zi = zipfile.ZipInfo(special[0]); zi.external_attr = special[1] << 16
            z.writestr(zi, special[2])
mk("dotdot.zip", [("../evil", "x")])
mk("dotdot2.zip", [("collections/../../evil", "x")])
mk("abs.zip", [("/tmp/zippy-qa-abs-evil", "x")])
mk("backslash.zip", [("..\\evil", "x")])
mk("drive.zip", [("C:/evil", "x")])
mk("symlink.zip", special=("collections/c/meta/link", stat.S_IFLNK | 0o777, "/etc/passwd"))
mk("symlinkdir.zip", [("collections/d/pwn", "x")], special=("collections/d", stat.S_IFLNK | 0o777, "/tmp"))
mk("device.zip", special=("collections/c/dev", stat.S_IFCHR | 0o666, "x"))
mk("under_file.zip", [("collections/c/meta/data.jsonl/x", "x")])
with zipfile.ZipFile("bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
    for n, d in good: z.writestr(n, d)
    z.writestr("collections/c/meta/big", b"\0" * (20 << 20))
with zipfile.ZipFile("notstore.zip", "w") as z:
    z.writestr("hello.txt", "hi")
PY
for f in dotdot dotdot2 abs backslash drive symlink symlinkdir device under_file bomb notstore; do
    zippy unpack $f.zip out_$f > /dev/null 2> err; rc=$?
    echo "$f: exit $rc, dest created: $([ -e out_$f ] && echo YES || echo no)"
done
cd ..
ls box | grep -v -e '\.zip$' -e '^err$' | head -5
[ -e evil ] || [ -e /tmp/zippy-qa-abs-evil ] && echo "something was written outside: YES" || echo "nothing written outside"
