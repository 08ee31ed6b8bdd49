# Decision (lead): when the log is shorter than the index claims, the issue
# prescribes a rebuild and cutting the torn last line, so a writer cuts the
# partial u5 line (verify, read-only, reports it first); when only a line end
# inside the covered range is damaged, a writer refuses and the line stays.
# QA: damage at the end of a fully indexed log must not make an acknowledged
# document vanish silently. The index (intact header, covered = old size,
# 5 live entries) proves the last line was written and synced.
mk() {
    rm -rf s
    for i in 1 2 3 4 5; do zippy put s u$i "{\"i\":$i}" -q; done
    log=s/collections/default/meta/data.jsonl
    size=$(stat -c %s "$log")
    last=$(( size - $(tail -1 "$log" | wc -c) ))   # offset of the last line
}
report() { # verify, then a writer, then: is u5 still in the log?
    # $1: offsets a report may name (u5's line, the damage, the index's end)
    zippy verify s > v.txt 2> v.err; echo "verify exit: $?"
    if grep -Eq "byte( offset)? ($1)\b" v.txt v.err; then echo "verify names the offset: yes"; else echo "verify names the offset: no ($(cat v.txt))"; fi
    zippy put s u6 '{"i":6}' -q 2> /dev/null
    if grep -q '"_id":"u5"' "$log"; then echo "u5 still in the log after a write: yes"; else echo "u5 still in the log after a write: NO (destroyed)"; fi
}
section "one byte: the final newline overwritten"
mk
printf ' ' | dd of="$log" bs=1 seek=$(( size - 1 )) conv=notrunc status=none
report "$last|$(( size - 1 ))|$size"
section "log truncated in the middle of its last line"
mk
truncate -s $(( size - 5 )) "$log"
report "$last|$(( size - 5 ))|$size"
