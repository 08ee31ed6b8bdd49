# The file-per-document layout from the CLI: init --layout files, the
# document commands, the files themselves, hand edits, errors naming the
# file, and --layout refused where it cannot apply.
section "init --layout files"
x zippy init s -c notes --layout files
has "created collection notes"
test -d s/collections/notes/docs && echo "docs/ exists"
grep -o '"layout": "files"' s/collections/notes/meta/manifest.json
x zippy put s -c notes n1 '{"title":"First","tags":["a","b"],"meta":{"stars":5,"draft":false}}'
x zippy put s -c notes urn:x:2 '{"title":"Second"}'
x zippy put s -c notes n3 '{"title":"Third"}'
section "the document files (pretty, no _id; ':' as %3A)"
ls s/collections/notes/docs
cat s/collections/notes/docs/n1.json
cat s/collections/notes/docs/urn%3Ax%3A2.json
section "meta: order.ids and .gitignore"
cat s/collections/notes/meta/order.ids
cat s/collections/notes/meta/.gitignore
section "get, scan, count, ids, stats"
x zippy get s -c notes n1
x zippy get s -c notes urn:x:2 --with-id
x zippy scan s -c notes --where '{"title":{"$ne":"Third"}}' --fields title
x zippy scan s -c notes --limit 1 --skip 1
x zippy count s -c notes
x zippy ids s -c notes
x zippy stats s -c notes | grep -E '^(collection|documents|layout|strict):'
x zippy stats s -c notes --json | grep -o '"layout":"files"'
x zippy list s
x zippy info s | grep -o '"notes": {"count": 3, "layout": "files"}'
section "delete removes the file"
x zippy delete s -c notes n3
test -e s/collections/notes/docs/n3.json && echo "n3.json still there" || echo "n3.json removed"
x zippy count s -c notes
section "hand edits: edit, add, delete, then get"
printf '{\n  "title": "First, edited"\n}\n' > s/collections/notes/docs/n1.json
printf '{"title": "by hand", "n": 1}' > s/collections/notes/docs/hand.json
rm s/collections/notes/docs/urn%3Ax%3A2.json
x zippy get s -c notes n1
x zippy get s -c notes hand
x zippy get s -c notes urn:x:2
has "not found"
x zippy scan s -c notes
x zippy verify s -c notes
section "an invalid file is reported with its path and line"
printf '{\n  "title": "broken",\n  "oops"\n}\n' > s/collections/notes/docs/hand.json
x zippy get s -c notes n1
has "docs/hand.json" "line 4"
x zippy put s -c notes n9 '{"x":1}'
has "docs/hand.json"
printf '{"title": "fixed"}\n' > s/collections/notes/docs/hand.json
x zippy get s -c notes hand
section "an invalid file name is reported"
echo '{}' > "s/collections/notes/docs/my file.json"
x zippy count s -c notes
has "docs/my file.json: not a valid document id (rename it)"
rm "s/collections/notes/docs/my file.json"
section "import and compact keep the files in step"
printf '%s\n' '{"_id":"i1","v":1}' '{"_id":"i2","v":2}' '{"_id":"i1","v":3}' | x zippy import s -c notes
cat s/collections/notes/docs/i1.json
x zippy compact s -c notes > /dev/null
x zippy reindex s -c notes
x zippy verify s -c notes
x zippy scan s -c notes --ids-only
section "put --layout files creates a files collection; existing layouts are kept"
x zippy put s -c other a '{"v":1}' --layout files
test -f s/collections/other/docs/a.json && echo "other/docs/a.json"
x zippy put s -c plain a '{"v":1}'
x zippy init s -c plain --layout files
has "already exists with the jsonl layout"
x zippy init s -c fresh --layout jsonl
test -f s/collections/fresh/meta/data.jsonl && echo "fresh is jsonl"
x zippy init s -c bad --layout xml
has "'files' or 'jsonl'"
