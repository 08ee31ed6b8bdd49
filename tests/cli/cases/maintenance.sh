# compact, reindex, verify (one collection, all collections, corruption).
zippy init s -q
for i in 1 2 3 4 5; do zippy put s -c users u$i "{\"i\":$i}" -q; done
for i in 1 2 3; do zippy put s -c users u$i "{\"i\":$i,\"v\":2}" -q; done
zippy delete s -c users u5 -q
zippy put s -c other o1 '{}' -q
zippy export s -c users > before.jsonl
section "compact"
x zippy compact s -c users
has "compacted users: 4 documents"
zippy export s -c users | cmp -s - before.jsonl && echo "same documents after compact"
zippy stats s -c users | grep -E '^(documents|log lines|dead lines):'
section "reindex"
x zippy reindex s -c users
has "reindexed users: 4 documents"
zippy export s -c users | cmp -s - before.jsonl && echo "same documents after reindex"
section "verify one collection"
x zippy verify s -c users
section "verify every collection"
x zippy verify s
section "verify an empty store"
zippy init e -q
x zippy verify e
has "has no collections"
section "missing collection / store: exit 1"
x zippy compact s -c nothing
has "nothing"
x zippy reindex s -c nothing
has "nothing"
x zippy verify s -c nothing
has "nothing"
x zippy verify ./nostore
has "./nostore"
section "corruption is found: exit 1, names the byte offset"
log=s/collections/users/meta/data.jsonl
if [ -f "$log" ]; then
    # change the last digit of the second line's document ("i":N -> "i":9)
    line1=$(head -1 "$log" | wc -c)
    off=$(( $(head -2 "$log" | wc -c) - 3 ))
    printf '9' | dd of="$log" bs=1 seek=$off conv=notrunc status=none
    zippy verify s > v.txt 2> err; echo "verify exit: $?"
    sed -E 's/[0-9]+/N/g' v.txt
    has "zippy verify: " "byte offset $line1"
    grep -q "first problem at byte $line1)" v.txt && echo "offset of line 2 reported"
    second=$(sed -n 2p before.jsonl | sed -E 's/^\{"_id":"([^"]*)".*/\1/')
    x zippy get s -c users "$second"
    has "byte offset $line1"
    x zippy scan s -c users
    has "byte offset $line1"
else
    echo "no $log: layout changed, update this test"
fi
