# list (NAME<TAB>COUNT, sorted) and info.
zippy init s -q
section "empty store lists nothing"
x zippy list s
zippy put s -c zebra z1 '{}' -q
zippy put s -c apple a1 '{}' -q
zippy put s -c apple a2 '{}' -q
zippy init s -c empty -q
section "list"
x zippy list s
section "info names the collections and counts"
x zippy info s > info.txt
grep -o '"apple": {[^}]*}' info.txt | tr -d ' '
grep -o '"zebra": {[^}]*}' info.txt | tr -d ' '
x zippy info s --pretty > pretty.txt
grep -c '^  "collections": {$' pretty.txt
section "missing store: exit 1"
x zippy list ./nope
has "./nope"
x zippy info ./nope
has "./nope"
