# Read-only commands change no file (names and checksums before == after).
zippy init s -q
printf '{"_id":"a","v":1}\n{"_id":"b","v":2}\n{"_id":"c","v":3}\n' | zippy import s -c users -q
zippy put s -c users a '{"v":10}' -q
zippy delete s -c users b -q
zippy put s -c other x '{}' -q
sums s > before.txt
find s | LC_ALL=C sort > files-before.txt
x zippy get s -c users a
x zippy get s -c users a --pretty > /dev/null
x zippy scan s -c users -w '{"v":{"$gt":1}}' -f v
x zippy export s -c users > /dev/null
x zippy list s
x zippy info s > /dev/null
x zippy stats s -c users > /dev/null
x zippy stats s -c other --json > /dev/null
x zippy count s -c users
x zippy ids s -c users
zippy exists s -c users a; echo "exists: $?"
x zippy verify s
x zippy verify s -c users
x zippy pack s s.zds
section "failed read-only commands change nothing either"
x zippy get s -c nocoll a
x zippy scan s -c users -w '{bad'
sums s > after.txt
find s | LC_ALL=C sort > files-after.txt
cmp -s before.txt after.txt && echo "file contents unchanged"
cmp -s files-before.txt files-after.txt && echo "no file or directory created"
wc -l < before.txt | tr -d ' '
section "read-only commands work on a read-only copy"
cp -r s ro
chmod -R a-w ro
if [ "$(id -u)" != 0 ]; then
    x zippy count ro -c users
    x zippy verify ro
else
    # root ignores file permissions: nothing to prove here
    echo 2; echo "users: ok"; echo "other: ok"
fi | sed -E 's/ \(.*//'
chmod -R u+w ro
