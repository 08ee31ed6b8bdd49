# Malformed documents: exit 1 with a message naming the id; nothing stored.
zippy init s -c users -q
for doc in '{"a":' '{bad}' '[1,2]' '"text"' '42' '{"a":1}}' '{"a":1,}' "{'a':1}" '' '{"a":tru}'; do
    section "put u '$doc'"
    x zippy put s -c users u "$doc"
    has 'zippy put: ' '"u"'
done
section "mismatching _id"
x zippy put s -c users u '{"_id":"other","a":1}'
has '"u"'
section "nothing was stored"
x zippy count s -c users
x zippy exists s -c users u
section "a good put afterwards"
x zippy put s -c users u '{"a":1}'
x zippy get s -c users u
