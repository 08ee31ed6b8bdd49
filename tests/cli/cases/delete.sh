# delete
zippy init s -q
zippy put s -c users a '{"v":1}' -q
zippy put s -c users b '{"v":2}' -q
x zippy delete s -c users a
has "deleted 'a' from users"
x zippy exists s -c users a
x zippy ids s -c users
section "again: exit 1, names the id"
x zippy delete s -c users a
has '"a"' "users"
section "-i form"
x zippy delete s -c users -i b
x zippy count s -c users
section "missing collection: exit 1, not created"
x zippy delete s -c ghosts a
has "ghosts"
x zippy list s
section "missing store: exit 1, not created"
x zippy delete ./none -c users a
has "./none"
test -e none || echo "no store created"
