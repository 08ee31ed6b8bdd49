# QA: like an invalid id, an invalid collection name can be refused before
# anything is opened: a refused put or import must not create the store.
x zippy put s1 -c .hidden k '{}'
has 'invalid collection name'
[ -e s1 ] && echo "s1 created: YES ($(cd s1 && find . | LC_ALL=C sort | tr '\n' ' '))" || echo "s1 created: no"
printf '{"_id":"a"}\n' > in.jsonl
x zippy import s2 -c 'a/b' in.jsonl
has 'invalid collection name'
[ -e s2 ] && echo "s2 created: YES" || echo "s2 created: no"
