# convert: jsonl <-> files in place, same documents in the same order
zippy put s -c u b '{"n":2,"t":["x"]}' -q
zippy put s -c u a '{"n":1}' -q
zippy put s -c u 'k:1' '{"n":3,"o":{"p":null}}' -q
zippy delete s -c u a -q
zippy scan s -c u > before.txt
x zippy convert s -c u --to files
has "now uses the files layout"
ls s/collections/u/docs
cat 's/collections/u/docs/k%3A1.json'
zippy scan s -c u > mid.txt
cmp before.txt mid.txt && echo "same documents, same order"
zippy stats s -c u | grep layout
section "already files: nothing to do"
x zippy convert s -c u --to files
section "back to jsonl"
x zippy convert s -c u --to jsonl
zippy scan s -c u > after.txt
cmp before.txt after.txt && echo "same documents, same order"
ls s/collections/u/meta | grep -c data.jsonl
ls -a s | grep -c convert
section "usage and refusals"
x zippy convert s -c u
x zippy convert s -c u --to xml
x zippy convert s -c ghosts --to files
has "ghosts"
