# import: stdin, files, several files, blank lines, bad lines, big input.
section "from stdin (no argument): creates store and collection"
printf '{"_id":"a","v":1}\n\n{"_id":"b","v":2}\n   \n{"_id":"c","v":3}' | x zippy import s -c t
has "imported 3 documents"
x zippy ids s -c t
section "from '-' and from files, several at once"
printf '{"_id":"d"}\n' > f1.jsonl
printf '{"_id":"e"}\r\n{"_id":"f","nested":{"x":[1,2]}}\n' > f2.jsonl
echo '{"_id":"g"}' | x zippy import s -c t f1.jsonl - f2.jsonl
has "imported 4 documents"
x zippy count s -c t
x zippy get s -c t f
section "README form: echo ... | zippy import ./store -c users -"
echo '{"_id":"u2","name":"Bob"}' | x zippy import ./store -c users -
x zippy get ./store -c users u2
section "a bad line: exit 1, names the line, earlier lines kept"
printf '{"_id":"h1"}\n{"_id":"h2"}\n\n{"_id":"h3", oops}\n{"_id":"h4"}\n' > bad.jsonl
x zippy import s -c h bad.jsonl
has "bad.jsonl line 4" "kept the 2 documents"
x zippy ids s -c h
section "a line without _id"
printf '{"_id":"k1"}\n{"name":"no id"}\n' | x zippy import s -c k
has "stdin line 2"
section "bad line in the second file"
x zippy import s -c m f1.jsonl bad.jsonl
has "bad.jsonl line 4"
x zippy count s -c m
section "missing file: exit 1 names it, nothing imported"
x zippy import s -c n f1.jsonl nosuch.jsonl
has "nosuch.jsonl"
x zippy list s
section "empty input"
x zippy import s -c t < /dev/null
has "imported 0 documents"
section "over 4 MiB (several blocks): bad line 50000 is reported as such"
awk 'BEGIN { for (i = 1; i <= 60000; i++) {
    if (i == 50000) print "{\"_id\":\"bad\" nope}";
    else printf "{\"_id\":\"d%06d\",\"pad\":\"%080d\"}\n", i, i } }' > big.jsonl
x zippy import s -c big big.jsonl
has "big.jsonl line 50000:" "kept the 49999 documents"
cat big.jsonl | x zippy import s -c big2
has "stdin line 50000:"
x zippy count s -c big
x zippy count s -c big2
x zippy get s -c big d049999
x zippy exists s -c big d050001
section "the same without the bad line"
grep -v bad big.jsonl | x zippy import s -c big3
has "imported 59999 documents"
x zippy verify s -c big3
section "a 5 MiB line (longer than a block)"
{ printf '{"_id":"pre"}\n{"_id":"huge","s":"'; head -c 5242880 /dev/zero | tr '\0' 'x'; printf '"}\n{"_id":"after"}\n'; } > huge.jsonl
x zippy import s -c huge huge.jsonl
has "imported 3 documents"
zippy get s -c huge huge | wc -c
x zippy ids s -c huge
