# Invalid ids are refused (exit 1, message names the id) and create nothing.
for id in '../evil' '.hidden' 'a/b' '' 'a b' '..' 'x..y'; do
    section "put '$id'"
    x zippy put s -c users "$id" '{"x":1}'
    has "invalid id '$id'"
done
test -e s && echo "store created by a refused put" || echo "no store created"
x zippy put s -c users good '{"x":1}'
section "get / delete / exists with an invalid id"
x zippy get s -c users ../evil
has "invalid id '../evil'"
x zippy delete s -c users a/b
has "invalid id 'a/b'"
zippy exists s -c users .hidden 2> err; echo "exists .hidden: $?"
has "invalid id '.hidden'"
section "an id of 256 bytes is refused, 255 is fine"
long=$(printf 'a%.0s' $(seq 255))
x zippy put s -c users "$long" '{"x":1}'
x zippy put s -c users "${long}b" '{"x":1}'
has "invalid id"
section "invalid collection names"
for c in '../up' '.hid' 'a/b' ''; do
    x zippy put s -c "$c" k '{"x":1}'
    has "\"$c\""
done
section "import: an invalid id on line 2"
printf '{"_id":"ok1"}\n{"_id":"../evil"}\n' | x zippy import s -c imp
has "line 2" "../evil"
x zippy ids s -c imp
section "only valid things were stored"
x zippy list s
