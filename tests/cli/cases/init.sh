# init: new store, idempotent re-run, -c, --name/--description.
x zippy init ./s
has "initialized store ./s"
test -f s/zds.json && test -d s/collections && echo "zds.json and collections/ exist"
x zippy list ./s
section "again: fine, says so"
x zippy init ./s
has "store ./s already exists"
section "-c creates a collection"
x zippy init ./s -c users
has "created collection users"
x zippy init ./s -c users
has "collection users already exists"
x zippy list ./s
section "--name / --description recorded in zds.json"
x zippy init ./t --name "Demo set" --description 'Users, "quoted"'
grep -c '"name": "Demo set"' t/zds.json
grep -c 'Users, \\"quoted\\"' t/zds.json
section "a file in the way: exit 1"
echo hi > afile
x zippy init ./afile
has "afile"
section "invalid collection name: exit 1"
x zippy init ./s -c 'bad/name'
has "bad/name"
