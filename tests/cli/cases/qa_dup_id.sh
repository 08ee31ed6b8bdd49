# QA: a document with two top-level "_id" members that disagree must be
# refused (put: the second one does not match the id; import: the line's id
# is ambiguous). Today the extra "_id" is silently dropped.
section "put k with a second \"_id\" \"z\""
x zippy put s k '{"_id":"k","_id":"z","v":1}'
has 'document "k"'
x zippy get s k --with-id
section "import a line with \"_id\" \"p\" then \"_id\" \"q\""
printf '{"_id":"p","_id":"q","v":1}\n' > in.jsonl
x zippy import s -c imp in.jsonl
has 'line 1'
echo "documents stored: $(zippy export s -c imp 2> /dev/null | grep -c _id)"
