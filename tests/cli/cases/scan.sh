# scan: filters, projection, limit, skip, ids-only, pretty.
cat > people.jsonl <<'J'
{"_id":"p1","name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"},"tags":["a"]}
{"_id":"p2","name":"Ben","age":22,"address":{"city":"Paris"},"tags":[]}
{"_id":"p3","name":"Cid","age":45,"address":{"city":"Oslo"},"active":false}
{"_id":"p4","name":"Dee","age":27}
{"_id":"p5","name":"Eli","age":60,"address":{"city":"Rome","zip":"00100"}}
J
zippy import s -c people people.jsonl -q
section "all"
x zippy scan s -c people
section "--where age > 25"
x zippy scan s -c people --where '{"age":{"$gt":25}}'
section "-w on a nested field, -f projection with a dot path"
x zippy scan s -c people -w '{"address.city":"Oslo"}' -f name,address.city
section "--fields, --limit, --skip"
x zippy scan s -c people --fields name --limit 2 --skip 1
section "--limit 0 prints nothing"
x zippy scan s -c people --limit 0
section "--ids-only"
x zippy scan s -c people --ids-only -w '{"age":{"$lt":40}}'
section "--pretty"
x zippy scan s -c people -w '{"name":"Ann"}' --pretty
section "update moves a document to the end (latest write)"
x zippy put s -c people p1 '{"name":"Ann","age":32}'
x zippy scan s -c people --ids-only
section "no match"
x zippy scan s -c people -w '{"age":{"$gt":100}}'
section "bad filter: exit 1"
x zippy scan s -c people -w '{"age":{"$bogus":1}}'
has "bogus"
x zippy scan s -c people -w '{"age":'
has "zippy scan: "
section "bad fields: exit 1"
x zippy scan s -c people -f 'a..b'
has "a..b"
section "missing collection: exit 1"
x zippy scan s -c nothere
has "nothere"
