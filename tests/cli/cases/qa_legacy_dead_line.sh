# QA: in a ZDS 0.1.x collection with an index, the index decides which lines
# are live (docs/FORMAT.md section 4). A dead line that does not parse (the
# torn write of a crashed ZDS, followed by later appends) must not block the
# conversion: every live document is fine.
mkdir -p s/collections/users/meta
m=s/collections/users/meta
printf '{"_id": "u1", "v": 1}\n{"_id": "u9", "v": 9, "tor\n{"_id": "u2", "v": 2}\n' > $m/data.jsonl
# text index: id, offset, length (with the newline); u9's torn line is dead
printf 'u1\t0\t22\nu2\t49\t22\n' > $m/index.bin
section "readers"
x zippy scan s -c users
section "a writer converts the collection"
x zippy put s -c users u3 '{"v":3}'
x zippy scan s -c users
x zippy verify s -c users
