# QA: import input forms: CRLF, blank lines, no final newline, stdin and
# files mixed, a BOM, a non-string _id, files that do not exist.
section "CRLF, blank and whitespace-only lines, no final newline"
printf '{"_id":"a","v":1}\r\n\r\n \t \r\n{"_id":"b","v":"x\\r"}\r\n\n{"_id":"c"}' > crlf.jsonl
x zippy import s crlf.jsonl
has "imported 3 documents into default"
cat s/collections/default/meta/data.jsonl
section "stdin between two files"
printf '{"_id":"f1"}\n' > f1.jsonl
printf '{"_id":"f2"}\n' > f2.jsonl
printf '{"_id":"in"}\n' | zippy import s f1.jsonl - f2.jsonl 2>&1
zippy scan s --ids-only | tail -3
section "line numbers count CRLF and blank lines"
printf '{"_id":"x1"}\r\n\r\n{"_id":"x2"}\r\n{bad}\r\n{"_id":"x3"}\r\n' > bad.jsonl
x zippy import s bad.jsonl
has "bad.jsonl line 4" "kept the 2 documents"
x zippy exists s x3
section "a UTF-8 BOM is refused on line 1, nothing stored"
printf '\xef\xbb\xbf{"_id":"bom"}\n' > bom.jsonl
x zippy import s bom.jsonl
has "bom.jsonl line 1" "nothing was imported"
section "_id that is not a string"
printf '{"_id":"ok1"}\n{"_id":7}\n' | zippy import s 2> err; echo "exit $?"
has "stdin line 2" 'no string "_id"'
printf '{"_id":null}\n' | zippy import s 2> err; echo "exit $?"
has "stdin line 1"
section "missing file, directory: exit 1, nothing imported from the others"
x zippy import s f1.jsonl nosuch.jsonl
has "nosuch.jsonl"
x zippy import s /
has "/"
section "count"
zippy count s
