# QA: a complete, well-formed JSON line at the end of a log is not a torn
# write (a torn write cannot end in '}' + '\n'). When it is not a valid
# document (here: "_id" is a number) it must be reported, and never be
# deleted by the next writer.
check() { # $1: store, $2: collection
    local log=$1/collections/$2/meta/data.jsonl
    zippy verify "$1" -c "$2" > v.txt 2> v.err; echo "verify exit: $?"
    grep -q 'byte' v.txt v.err && echo "verify names a byte offset: yes" || echo "verify names a byte offset: no ($(cat v.txt))"
    zippy put "$1" -c "$2" new '{}' -q 2> /dev/null
    grep -rq 'important' "$1" && echo "the line survives a write: yes" || echo "the line survives a write: NO (deleted)"
}
section "ZDS 0.1.x store (no index), last line with a numeric _id"
mkdir -p legacy/collections/c/meta
printf '{"_id": "ok", "v": 1}\n{"_id": 5, "important": "data"}\n' > legacy/collections/c/meta/data.jsonl
check legacy c
section "zippy store, a complete line with a numeric _id appended"
zippy put z -c c ok '{"v":1}' -q
printf '{"_id":5,"important":"data"}\n' >> z/collections/c/meta/data.jsonl
check z c
