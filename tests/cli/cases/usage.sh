# The argument parser: option forms, order, "--", usage errors (exit 2).
zippy init s -q

section "--opt=value, --opt value, -ovalue, -o value, options after positionals"
x zippy put s --collection=users --id=u1 --data='{"n":1}'
x zippy put s --collection users --id u2 --data '{"n":2}'
x zippy put s -cusers -iu3 -d'{"n":3}'
x zippy put s -c users -i u4 -d '{"n":4}'
x zippy put -c users s u5 '{"n":5}'
x zippy put s u6 '{"n":6}' -c users
x zippy ids s -c users
x zippy get -c users s u6 --pretty
x zippy get s -pcusers u1
x zippy scan s --collection=users --limit=2 --skip=1
x zippy scan s -c users -l1 -s2
noerr

section "-- ends options (ids starting with '-')"
x zippy put s -c users -- -dash '{"n":7}'
x zippy get s -c users -- -dash
x zippy get s -c users -i -dash
zippy exists s -c users -- -dash; echo "exists -dash: $?"

section "last option wins"
x zippy get s -c nope -c users u1

section "usage errors exit 2 with a usage line"
x zippy get s -c users u1 --bogus
has "unknown option '--bogus'" "usage: zippy get STORE" "Try 'zippy get --help'."
x zippy get s -c users u1 -Z
has "unknown option '-Z'"
x zippy get s -c users u1 --limit 3
has "option '--limit' is not valid here"
x zippy get s -c users u1 --pretty=yes
has "option '--pretty' takes no value"
x zippy get s -c
has "option '-c' needs a value"
x zippy scan s -c users --limit
has "option '--limit' needs a value"
x zippy scan s -c users --limit -3
has "needs a non-negative integer, not '-3'"
x zippy scan s -c users --skip 1x
has "needs a non-negative integer, not '1x'"
x zippy get s -c users
has "missing document id"
x zippy get
has "missing argument"
x zippy get s -c users u1 extra
has "unexpected argument 'extra'"
x zippy put s -c users -i u1 -d '{}' extra
has "unexpected argument 'extra'"
x zippy pack s
has "missing argument"
x zippy list s t
has "unexpected argument 't'"
x zippy import s -c users - -
has "stdin ('-') given twice"
section "nothing changed"
x zippy scan s -c users
