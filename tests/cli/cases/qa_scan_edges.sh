# QA: scan filters across types and through arrays, invalid operators,
# projections of missing/nested/array paths, --limit/--skip edge values.
cat > in.jsonl <<'J'
{"_id":"a","n":1,"s":"x","arr":[1,2,3],"o":{"p":{"q":1}},"t":true}
{"_id":"b","n":2.5,"s":"y","arr":[{"k":1},{"k":2}],"o":{"p":{"q":2}},"t":false}
{"_id":"c","n":"1","s":null,"arr":[],"o":{"p":[{"q":3,"r":4}]}}
{"_id":"d","n":-0,"s":"X","arr":[[1,2],[3]],"o":"str"}
{"_id":"e","n":1e400,"s":"\u00e9","arr":"notarr"}
{"_id":"i","n":null}
J
zippy import s in.jsonl -q
w() { printf '%s -> ' "$1"; zippy scan s -w "$1" --ids-only 2> err | tr '\n' ' '; echo; }
section "filters"
w '{"n":1}'
w '{"n":1.0}'
w '{"n":{"$gt":1}}'
w '{"n":{"$lt":1}}'
w '{"n":{"$gt":"0"}}'
w '{"n":{"$in":[1,"1",null]}}'
w '{"n":{"$nin":[1,"1"]}}'
w '{"n":{"$exists":false}}'
w '{"zz":{"$exists":false}}'
w '{"arr":2}'
w '{"arr":{"$ne":2}}'
w '{"arr.k":2}'
w '{"arr.1":2}'
w '{"arr.1.0":3}'
w '{"o.p.q":3}'
w '{"arr":[]}'
w '{"s":"\u00e9"}'
w '{"t":{"$ne":true}}'
w '{"$or":[{"n":1},{"s":"y"}]}'
w '{"n":{"$not":{"$gt":1}}}'
section "invalid filters: exit 1, message names the problem"
for f in '{"n":{"$regex":"x"}}' '{"$nor":[]}' '{"$or":[]}' '[]' '{"n":' '{"n":{"$in":1}}' '{"n":{"$gt":1,"a":1}}'; do
    zippy scan s -w "$f" > /dev/null 2> err; echo "$f: exit $? $(sed 's/^zippy scan: default: filter: //' err)"
done
section "projections"
for f in n missing o.p.q arr.k o,o.p; do printf '%s: ' "$f"; zippy scan s -f "$f" -l 3 | tr '\n' ' '; echo; done
for f in ',n' 'n.' 'o..p'; do zippy scan s -f "$f" > /dev/null 2>&1; echo "$f: exit $?"; done
section "limit and skip"
for a in "-l 0" "-l 1" "-l 18446744073709551615" "-s 5" "-s 6" "-s 18446744073709551615" "-l 2 -s 3"; do
    printf '%s: ' "$a"; zippy scan s --ids-only $a | tr '\n' ' '; echo; done
for a in "-l -1" "-l abc" "-l 18446744073709551616" "-l 1.5" "-s x" "-l"; do
    zippy scan s $a > /dev/null 2>&1; echo "$a: exit $?"; done
