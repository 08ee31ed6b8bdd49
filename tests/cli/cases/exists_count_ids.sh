# exists (0 present / 1 absent / 2 error), count, ids.
zippy init s -c users -q
section "empty collection"
x zippy count s -c users
x zippy ids s -c users
zippy exists s -c users a; echo "exists a: $?"
for id in c a b; do zippy put s -c users $id "{\"id\":\"$id\"}" -q; done
section "after 3 puts"
x zippy count s -c users
x zippy ids s -c users
zippy exists s -c users a; echo "exists a: $?"
zippy exists s -c users -i b; echo "exists -i b: $?"
zippy exists s -c users zz 2> err; echo "exists zz: $?"
noerr
section "exists: errors are 2"
zippy exists s -c nocoll a 2> err; echo "missing collection: $?"
has "nocoll"
zippy exists ./nostore -c users a 2> err; echo "missing store: $?"
has "./nostore"
zippy exists s -c users 2> err; echo "missing id: $?"
section "count / ids: missing collection is exit 1"
x zippy count s -c nocoll
has "nocoll"
x zippy ids ./nostore
has "./nostore"
