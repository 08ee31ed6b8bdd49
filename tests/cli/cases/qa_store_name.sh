# QA: the store name recorded in zds.json comes from the path; a trailing
# slash (shell completion adds one) must not end up in it.
zippy init st/ -q
grep '"name"' st/zds.json
mkdir -p deep && zippy init deep/st2// -q
grep '"name"' deep/st2/zds.json
