# A second writer fails while another process holds the writer lock;
# readers keep working.
zippy init s -c users -q
zippy put s -c users before '{}' -q
# A writer that holds the lock until we are done: import from a pipe that
# stays open until ./release exists.
( echo '{"_id":"w1"}'
  n=0; while [ ! -e release ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  echo '{"_id":"w2"}' ) | zippy import s -c users -q 2> import.err &
pid=$!
# give it time to start and take the lock (valgrind starts slowly)
if [ "${ZIPPY_VALGRIND:-0}" = 1 ]; then sleep 6; else sleep 1.5; fi
section "concurrent put: exit 1, locked by pid"
x zippy put s -c users late '{}'
has "locked by pid"
section "concurrent delete, compact, reindex: exit 1"
x zippy delete s -c users before
has "locked by pid"
x zippy compact s -c users
has "locked by pid"
x zippy reindex s -c users
has "locked by pid"
section "readers work meanwhile"
x zippy get s -c users before
x zippy exists s -c users before
x zippy verify s -c users | sed -E 's/ \(.*//'
section "another collection is not locked"
x zippy put s -c other x '{}'
touch release
wait $pid; echo "import exit: $?"
cat import.err
section "after the writer finished"
x zippy put s -c users late '{}'
x zippy ids s -c users
