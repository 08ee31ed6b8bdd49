# QA: one collection that cannot be opened (a stray directory without
# meta/data.jsonl, as a crash right after creating the directory leaves, or
# a corrupt log) must not hide the others from `zippy list` (`info` and
# `verify` already go on past it).
zippy put s -c a k '{}' -q
zippy put s -c c k '{}' -q
zippy put s -c e k '{}' -q
mkdir -p s/collections/b/meta                     # stray, empty
zippy put s -c d k '{}' -q
printf 'junk\n{"_id":"z"}\n' >> s/collections/d/meta/data.jsonl   # corrupt
zippy list s > l.txt 2> l.err; echo "list exit: $?"
for n in a c e; do grep -qx "$n	1" l.txt && echo "$n listed: yes" || echo "$n listed: NO"; done
grep -q 'collection b' l.err && echo "b's problem reported: yes" || echo "b's problem reported: no"
grep -q 'collection d' l.err && echo "d's problem reported: yes" || echo "d's problem reported: no"
