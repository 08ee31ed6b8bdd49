# QA: verify must not answer a clean "ok" when the files are damaged:
# garbage appended to the log, a truncated index.bin, a damaged index magic.
mk() {
    rm -rf s
    for i in 1 2 3 4 5; do zippy put s u$i "{\"i\":$i}" -q; done
    log=s/collections/default/meta/data.jsonl
    idx=s/collections/default/meta/index.bin
}
clean_ok() { # prints whether verify claimed a clean bill of health
    zippy verify s > v.txt 2> v.err; local rc=$?
    if [ $rc = 0 ] && [ ! -s v.err ] && grep -qx 'default: ok (5 lines, 5 documents)' v.txt; then
        echo "verify: clean ok (damage NOT reported)"
    else
        echo "verify: reports the damage"
        if [ -n "$1" ]; then grep -q "$1" v.txt v.err && echo "names byte $1: yes" || echo "names byte $1: no"; fi
    fi
}
section "garbage line appended to data.jsonl"
mk; size=$(stat -c %s "$log"); echo 'garbage' >> "$log"; clean_ok $size
section "index.bin truncated to 100 bytes"
mk; truncate -s 100 "$idx"; clean_ok
section "index.bin magic damaged"
mk; printf 'Q' | dd of="$idx" bs=1 seek=0 conv=notrunc status=none; clean_ok
