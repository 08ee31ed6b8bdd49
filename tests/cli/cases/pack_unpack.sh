# pack / unpack: round trip, unzip -t, refusing to overwrite.
zippy init s --name demo -q
zippy put s -c users a '{"name":"A","n":[1,2]}' -q
zippy put s -c users b '{"name":"B"}' -q
zippy put s -c orders o1 '{"total":9.5}' -q
section "pack"
x zippy pack s s.zds
has "packed s into s.zds"
unzip -tq s.zds > unzip.txt 2>&1 && echo "unzip -t: ok" || cat unzip.txt
unzip -Z1 s.zds | grep -c 'zds.json$'
section "pack --deflate"
x zippy pack s d.zds --deflate
unzip -tq d.zds > unzip.txt 2>&1 && echo "unzip -t: ok" || cat unzip.txt
section "pack to an existing file: exit 1"
x zippy pack s s.zds
has "s.zds"
section "pack a missing store: exit 1"
x zippy pack ./nostore n.zds
has "./nostore"
test -e n.zds || echo "no archive written"
section "unpack and compare"
x zippy unpack s.zds r
has "unpacked s.zds into r"
x zippy list r
for c in users orders; do
    zippy export s -c $c > a.jsonl; zippy export r -c $c > b.jsonl
    cmp -s a.jsonl b.jsonl && echo "$c identical"
done
x zippy verify r
x zippy unpack d.zds r2
zippy export r2 -c users | cmp -s - <(zippy export s -c users) && echo "deflate round trip identical"
section "unpack into an existing directory: exit 1"
x zippy unpack s.zds r
has "'r'"
section "unpack a missing or bad archive: exit 1"
x zippy unpack nothing.zds r3
has "nothing.zds"
echo "not a zip" > junk.zds
x zippy unpack junk.zds r4
has "junk.zds"
test -e r3 || test -e r4 || echo "nothing created"
