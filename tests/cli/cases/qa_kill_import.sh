# QA: kill -9 of an import in the middle (after it stored a first 4 MiB
# block, while it waits for more input): verify is clean, the stored
# documents are readable, and a new import works at once (the lock died
# with the process).
python3 -c '
import sys
for i in range(30000):
    sys.stdout.write("{\"_id\":\"k%05d\",\"pad\":\"%s\"}\n" % (i, "x" * 200))' > part1.jsonl
mkfifo feed
"$ZIPPY" import s -q < feed 2> import.err &   # not the zippy() wrapper: $! must be the process
zpid=$!
exec 3> feed            # keep the writing end open: the import waits for more
cat part1.jsonl >&3
log=s/collections/default/meta/data.jsonl
n=0
while [ $n -lt 200 ] && ! [ -s "$log" ]; do sleep 0.05; n=$((n + 1)); done
sleep 0.2
kill -9 $zpid
wait $zpid 2> /dev/null; echo "import killed: status $?"
exec 3>&-
echo "log has data: $([ -s "$log" ] && echo yes || echo no)"
zippy verify s > v.txt 2>&1; echo "verify exit: $?"
sed -E 's/[0-9]+/N/g' v.txt
c=$(zippy count s); [ "$c" -gt 0 ] && [ "$c" -lt 30000 ] && echo "some but not all documents stored"
zippy get s k00000 | cut -c1-12
printf '{"_id":"after","v":1}\n' | x zippy import s -q
x zippy get s after
zippy verify s | sed -E 's/[0-9]+/N/g'
