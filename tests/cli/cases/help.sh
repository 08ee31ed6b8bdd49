# Help for the tool and every command; versions; unknown commands.
section "zippy --help lists every command"
zippy --help > help.txt; echo "exit $?"
for c in init put get delete exists count ids scan export import list info \
         stats compact reindex verify pack unpack version help; do
    grep -q "^  $c " help.txt || echo "missing $c in zippy --help"
done
zippy -h | cmp -s - help.txt && echo "-h same as --help"
zippy help | cmp -s - help.txt && echo "help same as --help"

section "every command has --help and -h"
for c in init put get delete exists count ids scan export import list info \
         stats compact reindex verify pack unpack version help; do
    zippy $c --help > h.txt; rc=$?
    zippy $c -h | cmp -s - h.txt || echo "$c: -h differs from --help"
    zippy help $c | cmp -s - h.txt || echo "$c: 'help $c' differs"
    echo "$c: exit $rc, $(head -1 h.txt)"
    grep -q -- "--help" h.txt || echo "$c: help does not mention --help"
done

section "--help wins over missing arguments"
x zippy put --help > /dev/null
x zippy unpack -h > /dev/null

section "no command, unknown command"
x zippy
has "usage: zippy COMMAND"
x zippy frobnicate ./s
has "unknown command 'frobnicate'"
x zippy help frobnicate
has "unknown command 'frobnicate'"

section "version"
zippy version | sed -E 's/[0-9]+(\.[0-9]+)*/N/g'
zippy --version | sed -E 's/[0-9]+(\.[0-9]+)*/N/g'
x zippy version extra
has "unexpected argument 'extra'"
