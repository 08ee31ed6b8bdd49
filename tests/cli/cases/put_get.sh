# put (every way of giving the id and the document) and get.
section "put creates the store and the collection"
x zippy put s -c users alice '{"name":"Alice","age":28,"address":{"city":"Paris","zip":"75001"},"tags":["a","b"],"empty":{},"none":[],"ok":true,"n":null}'
has "stored 'alice' in users"
test -f s/zds.json && echo "store created"
x zippy list s

section "get: compact, without _id"
x zippy get s -c users alice
section "get --pretty"
x zippy get s -c users alice --pretty
section "get --with-id"
x zippy get s -c users alice --with-id

section "data from stdin, from '-', and from -d"
echo '{"name":"Bob"}' | x zippy put s -c users bob
echo '{"name":"Carol"}' | x zippy put s -c users carol -
echo '{"name":"Carl"}' | x zippy put s -c users carl -d -
x zippy put s -c users -i dave -d '{"name":"Dave"}'
printf '{\n  "name": "Eve",\n  "nested": {"k": [1, 2]}\n}\n' | x zippy put s -c users eve
for i in bob carol carl dave eve; do x zippy get s -c users $i; done

section "default collection is 'default'"
x zippy put s solo '{"x":1}'
x zippy get s -c default solo
x zippy list s

section "replace keeps one version"
x zippy put s -c users bob '{"name":"Robert"}'
x zippy get s -c users bob
x zippy count s -c users

section "_id in the document: equal is fine"
x zippy put s -c users frank '{"_id":"frank","name":"Frank"}'
x zippy get s -c users frank --with-id

section "strings with escapes and unicode survive"
x zippy put s -c users u8 '{"s":"quote \" brace { bracket ] colon : comma ,","t":"tab\there","u":"Zoë 山田 \u00e9"}'
x zippy get s -c users u8
x zippy get s -c users u8 --pretty

section "get of a missing id: exit 1, names the id and the collection"
x zippy get s -c users nobody
has "nobody" "users"
section "missing collection: exit 1, names it"
x zippy get s -c nocoll alice
has "nocoll"
section "missing store: exit 1, names it"
x zippy get ./nostore -c users alice
has "./nostore"
test -e nostore || echo "nostore not created"
