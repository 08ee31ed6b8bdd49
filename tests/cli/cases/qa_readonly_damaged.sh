# QA: read-only commands change no file even on stores a writer would
# repair or convert: torn tail, missing index, leftover temp files, a
# ZDS 0.1.x store, a store whose zds.json is missing.
snap() { (cd "$1" && find . -printf '%p %s %m\n' | LC_ALL=C sort; sums .); }
ro_all() {
    snap "$1" > before.txt
    for c in "get $1 u1" "get $1 u1 --pretty" "exists $1 u1" "count $1" "ids $1" "scan $1" \
             "scan $1 -w {\"i\":1} -l 1" "export $1" "list $1" "info $1" "stats $1" "verify $1" \
             "get $1 -c nocoll u1" "count $1 -c other"; do
        zippy $c > /dev/null 2>&1
    done
    snap "$1" > after.txt
    cmp -s before.txt after.txt && echo "$1: unchanged" || { echo "$1: CHANGED"; diff before.txt after.txt | head -5; }
}
mk() { for i in 1 2 3; do zippy put "$1" u$i "{\"i\":$i}" -q; done; }
mk torn; printf '{"_id":"u4","i"' >> torn/collections/default/meta/data.jsonl; ro_all torn
mk noidx; rm noidx/collections/default/meta/index.bin; ro_all noidx
mk tmps; touch tmps/collections/default/meta/index.bin.tmp tmps/collections/default/meta/data.jsonl.compact tmps/zds.json.tmp; ro_all tmps
mk nozds; rm nozds/zds.json; ro_all nozds
mkdir -p zds/collections/default/meta
printf '{"i": 1, "_id": "u1"}\n{"_id": "u2", "i": 2}\n{"_id": "u1", "i": 3}\n' > zds/collections/default/meta/data.jsonl
printf 'u1\t44\t22\n' > zds/collections/default/meta/index.bin
ro_all zds
zippy scan zds
