# QA: a document whose bytes fail their checksum is never served
# (docs/FORMAT.md 2.2: "a rebuild would launder the damage into a fresh
# checksum"). `zippy reindex` must not launder it silently: it must refuse
# or at least report the damaged line (byte offset), and the damaged value
# must not be served as if nothing happened.
for i in 1 2 3; do zippy put s u$i "{\"i\":$i}" -q; done
log=s/collections/default/meta/data.jsonl
line2=$(head -1 "$log" | wc -c)                 # offset of u2's line
off=$(( $(head -2 "$log" | wc -c) - 3 ))        # the digit of "i":2
printf '7' | dd of="$log" bs=1 seek=$off conv=notrunc status=none
zippy verify s > /dev/null 2>&1; echo "verify before reindex: exit $?"
zippy reindex s > r.out 2> r.err; rc=$?
if [ $rc != 0 ] || grep -q "$line2" r.err; then echo "reindex reports the damaged line: yes"; else echo "reindex reports the damaged line: NO ($(cat r.err))"; fi
out=$(zippy get s u2 2> /dev/null)
if [ "$out" = '{"i":7}' ] && [ $rc = 0 ] && ! grep -q "$line2" r.err; then echo "damaged value served silently: YES"; else echo "damaged value served silently: no"; fi
