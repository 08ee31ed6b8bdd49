# QA: two imports into one collection at once: the second fails at once
# with exit 1 and the first one's pid; the first then completes; readers
# meanwhile see a consistent prefix.
mkfifo feed
"$ZIPPY" import s -c users -q < feed 2> first.err &   # $! must be the zippy process
first=$!
exec 3> feed
printf '{"_id":"a1"}\n{"_id":"a2"}\n' >&3
n=0
while [ $n -lt 100 ] && ! grep -q . s/collections/users/meta/lock 2> /dev/null; do sleep 0.05; n=$((n + 1)); done
printf '{"_id":"b1"}\n' > second.jsonl
x zippy import s -c users second.jsonl
grep -q "locked by pid $first " err && echo "names the pid of the first import" || echo "pid NOT named: $(cat err)"
has "users"
x zippy scan s -c users --ids-only
exec 3>&-
wait $first; echo "first import exit: $?"
cat first.err
x zippy ids s -c users
