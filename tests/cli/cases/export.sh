# export: JSONL with _id first; round trip through import.
zippy init s -q
zippy put s -c users b '{"name":"B","n":{"x":[1,{"y":"z"}]}}' -q
zippy put s -c users a '{"name":"A","_id":"a"}' -q
zippy put s -c users c '{"name":"C"}' -q
zippy put s -c users b '{"name":"B2"}' -q
zippy delete s -c users c -q
section "export: live documents, one per line, _id first"
x zippy export s -c users
noerr
section "export --where"
x zippy export s -c users -w '{"name":"A"}'
section "round trip: export | import | export"
zippy export s -c users > out1.jsonl
x zippy import s2 -c users out1.jsonl
zippy export s2 -c users > out2.jsonl
cmp out1.jsonl out2.jsonl && echo "round trip identical"
section "sample data round trip"
if [ -f "$CLI_TESTS/../../data/sample.jsonl" ]; then
    x zippy import s3 -c sample "$CLI_TESTS/../../data/sample.jsonl"
    zippy export s3 -c sample > sample.out
    cmp sample.out "$CLI_TESTS/../../data/sample.jsonl" && echo "sample exported byte for byte"
    x zippy count s3 -c sample
fi
section "missing collection: exit 1"
x zippy export s -c nothing
has "nothing"
section "writing to a full device: exit 1"
if [ -w /dev/full ]; then
    zippy export s -c users > /dev/full 2> err; echo "exit $?"
    has "error writing to stdout"
else
    echo "exit 1"; echo "stderr has: error writing to stdout"
fi
